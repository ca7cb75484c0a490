-- Federation (contracts/oauth.md): an identity at an external OpenID
-- provider, keyed by the provider (`oidc:<id>`) and its `sub` there, never
-- by address, and the app user it signs in as. A person who first signed in
-- with the provider is an app user of that provider (app_users.provider =
-- `oidc:<id>`, provider_sub = the upstream `sub`); one who linked it to an
-- existing account signs in as that account. `email` is the address the
-- provider last said it verified (none when it did not).
CREATE TABLE linked_identities (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES app_users (id) ON DELETE CASCADE,
    provider      TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    email         TEXT,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    UNIQUE (provider, subject)
);
CREATE INDEX linked_identities_user ON linked_identities (user_id);

-- The provider of a code flow's refresh family when it is not the
-- configured one (a federated person: `oidc:<id>`).
ALTER TABLE refresh_families ADD COLUMN provider TEXT;
