-- Migration 6: the console's sessions (issue 17), in the store so that a session made on
-- one management server is valid on another and survives a restart. Keyed by the SHA-256
-- of the session cookie (the cookie itself is never stored). Portable SQL: TEXT and BIGINT.
CREATE TABLE IF NOT EXISTS console_sessions (digest TEXT PRIMARY KEY, user_name TEXT NOT NULL, role TEXT NOT NULL, csrf TEXT NOT NULL, address TEXT NOT NULL, created_ms BIGINT NOT NULL, last_ms BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS console_sessions_by_last ON console_sessions (last_ms);
CREATE INDEX IF NOT EXISTS console_sessions_by_created ON console_sessions (created_ms);
