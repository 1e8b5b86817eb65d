-- Migration 3: flags as BIGINT 0/1 instead of BOOLEAN, on both backends: sqlx's Any driver
-- decodes no BOOLEAN column of SQLite, and PostgreSQL casts no integer into one. SQLite
-- changes a column's type only by copying its table.
CREATE TABLE directory_accounts_3 (name_key TEXT PRIMARY KEY, name TEXT NOT NULL, enabled BIGINT NOT NULL, password_hash TEXT NOT NULL);
INSERT INTO directory_accounts_3 SELECT name_key, name, CASE WHEN enabled THEN 1 ELSE 0 END, password_hash FROM directory_accounts;
DROP TABLE directory_accounts;
ALTER TABLE directory_accounts_3 RENAME TO directory_accounts;
CREATE TABLE join_tokens_3 (digest TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, uses_left BIGINT NOT NULL, supersede BIGINT NOT NULL DEFAULT 0);
INSERT INTO join_tokens_3 SELECT digest, kind, created_at, expires_at, uses_left, CASE WHEN supersede THEN 1 ELSE 0 END FROM join_tokens;
DROP TABLE join_tokens;
ALTER TABLE join_tokens_3 RENAME TO join_tokens;
CREATE TABLE packages_3 (name TEXT NOT NULL, version TEXT NOT NULL, manifest TEXT NOT NULL, created_at BIGINT NOT NULL, author TEXT NOT NULL, committed BIGINT NOT NULL, PRIMARY KEY (name, version));
INSERT INTO packages_3 SELECT name, version, manifest, created_at, author, CASE WHEN committed THEN 1 ELSE 0 END FROM packages;
DROP TABLE packages;
ALTER TABLE packages_3 RENAME TO packages;
