-- Migration 5: events searched by machine and address (issue 17). Both are taken from the
-- event at ingest (event_store::search_fields): the machine is WorkstationName, else
-- CallerComputerName, the address IpAddress, '-' and '' being none, both in lower case.
-- Stored events are filled from their text here; every searched column has an index
-- ending with the store order n, so a search walks one index in order.
ALTER TABLE events ADD COLUMN IF NOT EXISTS machine TEXT;
ALTER TABLE events ADD COLUMN IF NOT EXISTS address TEXT;
UPDATE events SET
    machine = lower(COALESCE(NULLIF(NULLIF(body::jsonb ->> 'WorkstationName', '-'), ''),
                             NULLIF(NULLIF(body::jsonb ->> 'CallerComputerName', '-'), ''))),
    address = lower(NULLIF(NULLIF(body::jsonb ->> 'IpAddress', '-'), ''))
    WHERE body LIKE '{%';
CREATE INDEX IF NOT EXISTS events_by_machine ON events (machine, n);
CREATE INDEX IF NOT EXISTS events_by_address ON events (address, n);
CREATE INDEX IF NOT EXISTS events_by_user ON events (target_user, n);
CREATE INDEX IF NOT EXISTS events_by_site ON events (site, n);
