-- TOTP authenticators and sign-in challenges of the embedded provider, and
-- recent password re-verifications (any provider).

CREATE TABLE embedded_totp (
    sub             TEXT PRIMARY KEY REFERENCES embedded_users (sub) ON DELETE CASCADE,
    active_secret   TEXT,
    pending_secret  TEXT,
    last_step       BIGINT NOT NULL DEFAULT 0,
    enabled_at      BIGINT,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE embedded_challenges (
    session_hash    TEXT PRIMARY KEY,
    sub             TEXT NOT NULL REFERENCES embedded_users (sub) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    pending_secret  TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX embedded_challenges_expires ON embedded_challenges (expires_at);

CREATE TABLE password_verifications (
    provider        TEXT NOT NULL,
    sub             TEXT NOT NULL,
    verified_until  BIGINT NOT NULL,
    PRIMARY KEY (provider, sub)
);
