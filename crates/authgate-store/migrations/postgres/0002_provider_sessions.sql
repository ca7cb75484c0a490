-- Sessions that authgate started with a provider that does not track
-- sign-outs itself (Cognito), and the time of each subject's last sign-out.

CREATE TABLE provider_sessions (
    provider    TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    sub         TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    PRIMARY KEY (provider, session_id)
);
CREATE INDEX provider_sessions_sub ON provider_sessions (provider, sub);

CREATE TABLE subject_revocations (
    provider    TEXT NOT NULL,
    sub         TEXT NOT NULL,
    revoked_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, sub)
);
