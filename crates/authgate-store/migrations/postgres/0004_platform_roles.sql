-- The platform role of an app user (a role key: data, not an enum), and
-- the actor of administrative audit events.
ALTER TABLE app_users ADD COLUMN platform_role TEXT;
CREATE INDEX embedded_users_phone ON embedded_users (phone);
ALTER TABLE audit_events ADD COLUMN actor TEXT;
