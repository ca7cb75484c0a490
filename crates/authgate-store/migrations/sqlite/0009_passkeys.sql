-- The embedded provider's passkeys (WebAuthn credentials): one row per
-- credential, its id unique across users. `passkey` is webauthn-rs's record
-- of the credential (public key, signature counter, backup flags): public
-- material, no secret. Audit rows of sign-ins say how the user signed in.
CREATE TABLE embedded_passkeys (
    credential_id  TEXT PRIMARY KEY,
    sub            TEXT NOT NULL REFERENCES embedded_users (sub) ON DELETE CASCADE,
    name           TEXT,
    passkey        TEXT NOT NULL,
    backed_up      BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);
CREATE INDEX embedded_passkeys_sub ON embedded_passkeys (sub);

ALTER TABLE audit_events ADD COLUMN method TEXT;
