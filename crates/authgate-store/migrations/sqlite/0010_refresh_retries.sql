-- Retry-tolerant refresh: a rotated token records the digest of the token
-- that replaced it, so that a retry within AUTHGATE_REFRESH_REUSE_INTERVAL
-- can be answered with that same child (and anything else is reuse).
ALTER TABLE refresh_tokens ADD COLUMN replaced_by TEXT;
