-- The version of each app user's context (the user, its platform role and
-- grants, its tenants with role and grants): every write that changes what
-- `/v1/auth/subject` answers for a user moves that user's version, here in
-- the database, so that every instance's cache of contexts sees the change
-- at the next request. Triggers rather than application code, so that no
-- write path can forget it.
ALTER TABLE app_users ADD COLUMN context_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER app_user_context_changed
AFTER UPDATE OF email, name, platform_role, mfa_totp ON app_users
WHEN OLD.email IS NOT NEW.email OR OLD.name IS NOT NEW.name
  OR OLD.platform_role IS NOT NEW.platform_role OR OLD.mfa_totp IS NOT NEW.mfa_totp
BEGIN
  UPDATE app_users SET context_version = context_version + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER membership_added AFTER INSERT ON memberships
BEGIN
  UPDATE app_users SET context_version = context_version + 1 WHERE id = NEW.user_id;
END;

CREATE TRIGGER membership_changed AFTER UPDATE ON memberships
BEGIN
  UPDATE app_users SET context_version = context_version + 1
  WHERE id IN (OLD.user_id, NEW.user_id);
END;

-- Also fired by the cascade when a tenant is deleted.
CREATE TRIGGER membership_removed AFTER DELETE ON memberships
BEGIN
  UPDATE app_users SET context_version = context_version + 1 WHERE id = OLD.user_id;
END;

CREATE TRIGGER tenant_renamed AFTER UPDATE OF name ON tenants
WHEN OLD.name IS NOT NEW.name
BEGIN
  UPDATE app_users SET context_version = context_version + 1
  WHERE id IN (SELECT user_id FROM memberships WHERE tenant_id = NEW.id);
END;

-- A role's grants reach every holder's context; a role created under a key
-- that users already name gives them grants.
CREATE TRIGGER role_added AFTER INSERT ON roles
BEGIN
  UPDATE app_users SET context_version = context_version + 1
  WHERE (NEW.scope = 'platform' AND platform_role = NEW.role_key)
     OR id IN (SELECT user_id FROM memberships
               WHERE role_scope = NEW.scope AND role_key = NEW.role_key);
END;

CREATE TRIGGER role_changed AFTER UPDATE ON roles
BEGIN
  UPDATE app_users SET context_version = context_version + 1
  WHERE (OLD.scope = 'platform' AND platform_role IN (OLD.role_key, NEW.role_key))
     OR id IN (SELECT user_id FROM memberships
               WHERE role_scope = OLD.scope AND role_key IN (OLD.role_key, NEW.role_key));
END;

CREATE TRIGGER role_removed AFTER DELETE ON roles
BEGIN
  UPDATE app_users SET context_version = context_version + 1
  WHERE (OLD.scope = 'platform' AND platform_role = OLD.role_key)
     OR id IN (SELECT user_id FROM memberships
               WHERE role_scope = OLD.scope AND role_key = OLD.role_key);
END;
