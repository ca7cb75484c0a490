-- The version of each app user's context (the user, its platform role and
-- grants, its tenants with role and grants): every write that changes what
-- `/v1/auth/subject` answers for a user moves that user's version, here in
-- the database, so that every instance's cache of contexts sees the change
-- at the next request. Triggers rather than application code, so that no
-- write path can forget it.
ALTER TABLE app_users ADD COLUMN context_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION authgate_app_user_context_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (OLD.email, OLD.name, OLD.platform_role, OLD.mfa_totp)
     IS DISTINCT FROM (NEW.email, NEW.name, NEW.platform_role, NEW.mfa_totp) THEN
    NEW.context_version := OLD.context_version + 1;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER app_user_context_changed BEFORE UPDATE ON app_users
FOR EACH ROW EXECUTE FUNCTION authgate_app_user_context_changed();

-- Also fired by the cascade when a tenant is deleted.
CREATE FUNCTION authgate_membership_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE app_users SET context_version = context_version + 1 WHERE id = OLD.user_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE app_users SET context_version = context_version + 1 WHERE id = NEW.user_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER membership_changed AFTER INSERT OR UPDATE OR DELETE ON memberships
FOR EACH ROW EXECUTE FUNCTION authgate_membership_changed();

CREATE FUNCTION authgate_tenant_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.name IS DISTINCT FROM NEW.name THEN
    UPDATE app_users SET context_version = context_version + 1
    WHERE id IN (SELECT user_id FROM memberships WHERE tenant_id = NEW.id);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER tenant_renamed AFTER UPDATE ON tenants
FOR EACH ROW EXECUTE FUNCTION authgate_tenant_renamed();

-- A role's grants reach every holder's context; a role created under a key
-- that users already name gives them grants.
CREATE FUNCTION authgate_role_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  role_scope_of TEXT;
  role_keys TEXT[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    role_scope_of := NEW.scope; role_keys := ARRAY[NEW.role_key];
  ELSIF TG_OP = 'DELETE' THEN
    role_scope_of := OLD.scope; role_keys := ARRAY[OLD.role_key];
  ELSE
    role_scope_of := OLD.scope; role_keys := ARRAY[OLD.role_key, NEW.role_key];
  END IF;
  UPDATE app_users SET context_version = context_version + 1
  WHERE (role_scope_of = 'platform' AND platform_role = ANY (role_keys))
     OR id IN (SELECT user_id FROM memberships
               WHERE role_scope = role_scope_of AND role_key = ANY (role_keys));
  RETURN NULL;
END $$;
CREATE TRIGGER role_changed AFTER INSERT OR UPDATE OR DELETE ON roles
FOR EACH ROW EXECUTE FUNCTION authgate_role_changed();
