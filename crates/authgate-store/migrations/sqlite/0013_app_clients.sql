-- One registry for machine clients and app clients (OAuth 2.1 / OIDC): a
-- client is public (no secret: `secret_hash` is empty) or confidential, has
-- exact redirect and post-logout URIs (space-separated), the grant types it
-- may use (space-separated), and whether its users are asked for consent.
-- Every client registered before this migration is a confidential machine
-- client of `client_credentials`, which the defaults say.
ALTER TABLE machine_clients RENAME TO clients;
ALTER TABLE clients ADD COLUMN client_type TEXT NOT NULL DEFAULT 'confidential';
ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN post_logout_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN grant_types TEXT NOT NULL DEFAULT 'client_credentials';
ALTER TABLE clients ADD COLUMN consent BIGINT NOT NULL DEFAULT 0;
