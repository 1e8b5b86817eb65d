-- Migration 5: events searched by machine and address (issue 17). Both are taken from the
-- event at ingest (event_store::search_fields): the machine is WorkstationName, else
-- CallerComputerName, the address IpAddress, '-' and '' being none, both in lower case.
-- Stored events are filled from their text here; every searched column has an index
-- ending with the store order n, so a search walks one index in order.
ALTER TABLE events ADD COLUMN machine TEXT;
ALTER TABLE events ADD COLUMN address TEXT;
UPDATE events SET
    machine = lower(COALESCE(NULLIF(NULLIF(CAST(json_extract(body, '$.WorkstationName') AS TEXT), '-'), ''),
                             NULLIF(NULLIF(CAST(json_extract(body, '$.CallerComputerName') AS TEXT), '-'), ''))),
    address = lower(NULLIF(NULLIF(CAST(json_extract(body, '$.IpAddress') AS TEXT), '-'), ''))
    WHERE json_valid(body);
CREATE INDEX IF NOT EXISTS events_by_machine ON events (machine, n);
CREATE INDEX IF NOT EXISTS events_by_address ON events (address, n);
CREATE INDEX IF NOT EXISTS events_by_user ON events (target_user, n);
CREATE INDEX IF NOT EXISTS events_by_site ON events (site, n);
