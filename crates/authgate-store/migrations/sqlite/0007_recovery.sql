-- One-time recovery codes (any provider): a fresh set of ten whenever an
-- authenticator becomes active, stored as digests, each usable once.
CREATE TABLE recovery_codes (
    provider    TEXT NOT NULL,
    sub         TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (provider, sub, code_hash)
);

-- When an account last had its password reset by mail and its authenticator
-- replaced: one may not follow the other within the cooling-off period
-- without a recovery code.
CREATE TABLE account_recoveries (
    provider           TEXT NOT NULL,
    sub                TEXT NOT NULL,
    password_reset_at  BIGINT,
    mfa_reset_at       BIGINT,
    PRIMARY KEY (provider, sub)
);

-- Secrets of this installation, made on first use (the key that derives
-- the decoy answers for addresses without an account).
CREATE TABLE instance_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
