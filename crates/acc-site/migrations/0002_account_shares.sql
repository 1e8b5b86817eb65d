-- Migration 2: rule M8a (smart lockout): each address's share of an account's unfamiliar
-- aggregate. A version-1 database has no shares, which is exactly "no share yet".
CREATE TABLE IF NOT EXISTS account_shares (
    sid TEXT NOT NULL, ip TEXT NOT NULL, share TEXT NOT NULL, PRIMARY KEY (sid, ip));
