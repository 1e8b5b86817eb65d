-- Migration 3: flags as BIGINT 0/1 instead of BOOLEAN, on both backends: sqlx's Any driver
-- decodes no BOOLEAN column of SQLite, and PostgreSQL casts no integer into one.
ALTER TABLE directory_accounts ALTER COLUMN enabled TYPE BIGINT USING CASE WHEN enabled THEN 1 ELSE 0 END;
ALTER TABLE join_tokens ALTER COLUMN supersede DROP DEFAULT;
ALTER TABLE join_tokens ALTER COLUMN supersede TYPE BIGINT USING CASE WHEN supersede THEN 1 ELSE 0 END;
ALTER TABLE join_tokens ALTER COLUMN supersede SET DEFAULT 0;
ALTER TABLE packages ALTER COLUMN committed TYPE BIGINT USING CASE WHEN committed THEN 1 ELSE 0 END;
