-- The OpenID Provider (contracts/oauth.md): browser sessions of the hosted
-- pages and authorization codes, each under the SHA-256 digest of the opaque
-- value the browser or the client holds. A code lives 60 s and works once;
-- `family_id` is the refresh family its redemption started, revoked when
-- the code is presented again. Refresh families issued to an OAuth client
-- name it, the browser session they came from, and the scope and
-- authentication methods their tokens carry at every refresh.
CREATE TABLE browser_sessions (
    cookie_hash  TEXT PRIMARY KEY,
    sid          TEXT NOT NULL UNIQUE,
    provider     TEXT NOT NULL,
    sub          TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    amr          TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ended_at     BIGINT
);
CREATE INDEX browser_sessions_subject ON browser_sessions (provider, sub);

CREATE TABLE authorization_codes (
    code_hash       TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    sid             TEXT NOT NULL,
    provider        TEXT NOT NULL,
    sub             TEXT NOT NULL,
    auth_time       BIGINT NOT NULL,
    amr             TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    used_at         BIGINT,
    family_id       TEXT
);
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);

ALTER TABLE refresh_families ADD COLUMN client_id TEXT;
ALTER TABLE refresh_families ADD COLUMN sid TEXT;
ALTER TABLE refresh_families ADD COLUMN scope TEXT;
ALTER TABLE refresh_families ADD COLUMN amr TEXT;
CREATE INDEX refresh_families_sid ON refresh_families (sid);

-- What a person allowed a client registered with consent: its scopes, once
-- per (client, account), until they are asked again (prompt=consent).
CREATE TABLE consents (
    client_id   TEXT NOT NULL,
    provider    TEXT NOT NULL,
    sub         TEXT NOT NULL,
    scope       TEXT NOT NULL,
    granted_at  BIGINT NOT NULL,
    PRIMARY KEY (client_id, provider, sub)
);
