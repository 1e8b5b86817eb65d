-- Migration 5: the management server nodes serving this store (issue 18). Portable SQL: TEXT and BIGINT only.
CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, url TEXT NOT NULL, joined_at_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL);
