-- Migration 1: the site database's base schema (every statement idempotent, so a database
-- made before schema versions opens unchanged).
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (sid TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account_sources (
    sid TEXT NOT NULL, source TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (sid, source));
CREATE TABLE IF NOT EXISTS account_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sid TEXT NOT NULL, time_ms INTEGER NOT NULL, caller TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS account_failures_by_sid ON account_failures (sid, id);
CREATE TABLE IF NOT EXISTS familiar (source TEXT PRIMARY KEY, last_success INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
    agent_id TEXT PRIMARY KEY, host TEXT NOT NULL, os TEXT NOT NULL, version TEXT NOT NULL,
    principal TEXT NOT NULL, ip TEXT NOT NULL, registered_at INTEGER NOT NULL, last_seen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS shares (name TEXT PRIMARY KEY, acl TEXT NOT NULL);
