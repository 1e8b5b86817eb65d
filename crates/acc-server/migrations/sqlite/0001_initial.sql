-- Migration 1: the schema of acc before schema versions (every statement idempotent, so a
-- database made then opens as version 1 unchanged). SQL that SQLite and PostgreSQL both accept.
CREATE TABLE IF NOT EXISTS revisions (number BIGINT PRIMARY KEY, created_at BIGINT NOT NULL, author TEXT NOT NULL, summary TEXT NOT NULL, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, sealed TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, role TEXT NOT NULL, description TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT);
CREATE TABLE IF NOT EXISTS directory_accounts (name_key TEXT PRIMARY KEY, name TEXT NOT NULL, enabled BOOLEAN NOT NULL, password_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS join_tokens (digest TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, uses_left BIGINT NOT NULL, supersede BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE IF NOT EXISTS certificates (serial TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, subject TEXT NOT NULL, issued_at BIGINT NOT NULL, not_after BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS sites (name TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents (name TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS packages (name TEXT NOT NULL, version TEXT NOT NULL, manifest TEXT NOT NULL, created_at BIGINT NOT NULL, author TEXT NOT NULL, committed BOOLEAN NOT NULL, PRIMARY KEY (name, version));
