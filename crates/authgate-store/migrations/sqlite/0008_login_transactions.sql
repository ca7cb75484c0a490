-- Login transactions: the service-owned record of a sign-in that crosses
-- requests (challenges), under the digest of the client's handle. They
-- replace the embedded provider's own challenge sessions.
CREATE TABLE login_transactions (
    handle_hash     TEXT PRIMARY KEY,
    provider        TEXT NOT NULL,
    email           TEXT NOT NULL,
    proved          TEXT NOT NULL,
    next_step       TEXT NOT NULL,
    provider_state  TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX login_transactions_expires ON login_transactions (expires_at);

DROP TABLE embedded_challenges;
