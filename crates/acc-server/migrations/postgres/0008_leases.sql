-- Migration 5: the leases of once-only jobs (issue 18): which management server runs a job
-- (the tick of rotation steps and CRL pushes, the event store's retention) and until when.
-- Portable SQL: TEXT and BIGINT only.
CREATE TABLE IF NOT EXISTS leases (job TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL);
