-- Login transactions: the service-owned record of a flow that crosses
-- requests (sign-in challenges, lost-authenticator resets), under the digest
-- of the client's handle. They replace the embedded provider's own challenge
-- sessions and the separate table of lost-authenticator resets.
CREATE TABLE login_transactions (
    handle_hash     TEXT PRIMARY KEY,
    provider        TEXT NOT NULL,
    email           TEXT NOT NULL,
    sub             TEXT,
    proved          TEXT NOT NULL,
    next_step       TEXT NOT NULL,
    provider_state  TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX login_transactions_expires ON login_transactions (expires_at);
CREATE INDEX login_transactions_subject ON login_transactions (provider, sub);

DROP TABLE embedded_challenges;
DROP TABLE mfa_resets;
