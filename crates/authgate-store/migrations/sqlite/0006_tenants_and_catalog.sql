-- Tenants, memberships and invitations; the authorization catalog (roles
-- whose keys and grants are data); Cedar policies; machine clients; and the
-- object an audit event acted on.

CREATE TABLE roles (
    scope        TEXT NOT NULL CHECK (scope IN ('platform', 'tenant')),
    role_key     TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    -- A JSON array of grants, e.g. ["devices:read", "members:*"].
    grants       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, role_key)
);

INSERT INTO roles (scope, role_key, description, grants, created_at, updated_at) VALUES
    ('platform', 'admin', 'Administers authgate: users, roles, policies, clients, the audit trail; holds every grant in every tenant.', '["*"]', 0, 0),
    ('tenant', 'owner', 'Owns the tenant: everything in it, including deleting it and naming other owners.', '["*"]', 0, 0),
    ('tenant', 'admin', 'Runs the tenant: renames it, manages members up to admin, reads and writes its data.', '["tenant:read","tenant:update","members:read","members:write","data:read","data:write"]', 0, 0),
    ('tenant', 'member', 'Works in the tenant: reads and writes its data.', '["tenant:read","members:read","data:read","data:write"]', 0, 0),
    ('tenant', 'viewer', 'Reads the tenant''s data.', '["tenant:read","members:read","data:read"]', 0, 0);

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_by  TEXT REFERENCES app_users (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE memberships (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES app_users (id) ON DELETE CASCADE,
    role_scope  TEXT NOT NULL DEFAULT 'tenant' CHECK (role_scope = 'tenant'),
    role_key    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    -- A role cannot be deleted while a membership holds it.
    FOREIGN KEY (role_scope, role_key) REFERENCES roles (scope, role_key)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- A membership for an address without an app user yet; it binds on the
-- first sign-in of that address.
CREATE TABLE invitations (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role_scope  TEXT NOT NULL DEFAULT 'tenant' CHECK (role_scope = 'tenant'),
    role_key    TEXT NOT NULL,
    invited_by  TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, email),
    FOREIGN KEY (role_scope, role_key) REFERENCES roles (scope, role_key)
);
CREATE INDEX invitations_email ON invitations (email);

-- Cedar policies (validated before they are written).
CREATE TABLE policies (
    id           TEXT PRIMARY KEY,
    description  TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Machine clients of the client_credentials grant. The secret is 256 random
-- bits, so a fast hash (SHA-256) is the right one.
CREATE TABLE machine_clients (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    -- Space-separated scopes.
    scopes       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

ALTER TABLE audit_events ADD COLUMN target TEXT;

-- Whether the user has an authenticator app, as of their last sign-in or
-- enrolment through authgate (so the user context needs no provider call).
ALTER TABLE app_users ADD COLUMN mfa_totp BIGINT NOT NULL DEFAULT 0;
