-- Migration 4: the console's users (issue 17). Portable SQL: TEXT and BIGINT only.
CREATE TABLE IF NOT EXISTS console_users (name_key TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, password_hash TEXT NOT NULL, created_at BIGINT NOT NULL, password_changed_at BIGINT NOT NULL);
