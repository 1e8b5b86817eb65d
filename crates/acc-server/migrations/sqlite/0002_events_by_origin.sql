-- Migration 2: the event store, keyed by origin and sequence, with its position `n` in
-- arrival order (SQLite: the rowid). A store keyed by site name (before origins) is renamed
-- to events_by_name before this runs and copied in after it (store/legacy_events.rs).
CREATE TABLE IF NOT EXISTS events (n INTEGER PRIMARY KEY, origin TEXT NOT NULL, seq BIGINT NOT NULL, site TEXT NOT NULL, event_id TEXT NOT NULL, time_ms BIGINT NOT NULL, target_user TEXT, body TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_origin ON events (origin, seq);
CREATE INDEX IF NOT EXISTS events_by_time ON events (time_ms);
CREATE INDEX IF NOT EXISTS events_by_id ON events (event_id, n);
