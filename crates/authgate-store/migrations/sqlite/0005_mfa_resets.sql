-- Lost-authenticator recoveries: a mailed code, then a recovery-only token.
CREATE TABLE mfa_resets (
    session_hash    TEXT PRIMARY KEY,
    provider        TEXT NOT NULL,
    sub             TEXT NOT NULL,
    email           TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    recovery_hash   TEXT UNIQUE,
    provider_state  TEXT,
    expires_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
