-- TOTP authenticators and sign-in challenges of the embedded provider, and
-- recent password re-verifications (any provider).

CREATE TABLE embedded_totp (
    sub             TEXT PRIMARY KEY REFERENCES embedded_users (sub) ON DELETE CASCADE,
    active_secret   TEXT,
    pending_secret  TEXT,
    last_step       INTEGER NOT NULL DEFAULT 0,
    enabled_at      INTEGER,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE embedded_challenges (
    session_hash    TEXT PRIMARY KEY,
    sub             TEXT NOT NULL REFERENCES embedded_users (sub) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    pending_secret  TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    expires_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX embedded_challenges_expires ON embedded_challenges (expires_at);

CREATE TABLE password_verifications (
    provider        TEXT NOT NULL,
    sub             TEXT NOT NULL,
    verified_until  INTEGER NOT NULL,
    PRIMARY KEY (provider, sub)
);
