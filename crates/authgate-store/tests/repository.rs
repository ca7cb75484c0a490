//! The store's repository methods, each test written once and run on both
//! engines (`sqlite::*` and `postgres::*`, see `common`): migrations and ping,
//! app users (including concurrent first sign-ins), embedded users and their
//! one-time codes, refresh-token families (rotation, reuse detection,
//! concurrent rotation, revocation), signing keys, the audit trail, login
//! transactions, secret columns sealed under AES-256-GCM (bound to their row,
//! sealed at start, rewrapped under a new key) and passkeys.

#[macro_use]
mod common;

use authgate_core::ContextStamp;
use authgate_core::{AuditEvent, AuditOutcome};
use authgate_store::audit::{AuditQuery, AuditRow};
use authgate_store::embedded::{NewEmbeddedUser, UserStatus};
use authgate_store::keys::StoredKey;
use authgate_store::refresh::{AdvanceOutcome, Advanced, NewFamily, RotateOutcome};
use authgate_store::{Engine, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Barrier;

store_tests!(
    migrate_is_idempotent_and_ping_works,
    app_user_is_found_or_created_by_provider_and_sub,
    concurrent_first_sign_ins_create_one_app_user,
    embedded_users_are_unique_by_email_and_confirm_once,
    codes_are_replaced_counted_and_deleted,
    codes_need_an_existing_user,
    refresh_tokens_rotate_detect_reuse_and_revoke,
    families_advance_one_generation_at_a_time,
    concurrent_advances_of_one_generation_advance_once,
    context_versions_move_with_every_write_that_changes_a_context,
    concurrent_rotation_of_one_token_rotates_once,
    retries_within_the_interval_share_one_child,
    signing_keys_retire_and_prune,
    concurrent_key_additions_leave_one_signing_key,
    audit_events_filter_newest_first,
    a_full_audit_batch_is_written_whole_in_order,
    provider_sessions_record_sign_outs,
    roles_in_use_are_not_deleted,
    a_tenant_keeps_its_last_owner,
    invitations_bind_once_and_keep_existing_memberships,
    clients_are_stored_hashed_and_revoked,
    codes_work_once_and_a_replay_names_the_family_to_revoke,
    concurrent_redemptions_of_one_code_redeem_once,
    browser_sessions_live_until_ended_or_expired,
    login_transactions_are_tried_a_bounded_number_of_times_expire_and_replace_an_accounts_others,
    secret_fields_are_sealed_and_bound_to_their_row,
    plain_rows_are_sealed_at_start_and_rewrapped_under_a_new_key,
    passkeys_are_unique_across_users_updated_at_use_and_go_with_their_user,
);

async fn user(store: &Store, sub: &str, email: &str) -> authgate_store::AppUser {
    store
        .find_or_create_app_user("embedded", sub, Some(email), None, 1)
        .await
        .unwrap()
}

async fn roles_in_use_are_not_deleted(store: Store) {
    use authgate_store::catalog::{Role, RoleDeletion, RoleScope};
    let seeded: Vec<String> = store
        .roles()
        .await
        .unwrap()
        .into_iter()
        .map(|r| format!("{}/{}", r.scope.as_str(), r.key))
        .collect();
    assert_eq!(
        seeded,
        [
            "platform/admin",
            "tenant/admin",
            "tenant/member",
            "tenant/owner",
            "tenant/viewer"
        ]
    );
    let role = Role {
        scope: RoleScope::Tenant,
        key: "auditor".into(),
        description: "reads".into(),
        grants: vec!["data:read".into(), "audit:*".into()],
        created_at: 5,
        updated_at: 5,
    };
    store.insert_role(&role).await.unwrap();
    assert!(matches!(
        store.insert_role(&role).await,
        Err(authgate_store::StoreError::Conflict)
    ));
    assert_eq!(
        store.role(RoleScope::Tenant, "auditor").await.unwrap(),
        Some(role.clone())
    );
    let alice = user(&store, "a", "a@example.com").await;
    let tenant = store
        .create_tenant("T", alice.id, "owner", 10)
        .await
        .unwrap();
    let bob = user(&store, "b", "b@example.com").await;
    store
        .add_member(tenant.id, bob.id, "auditor", 11)
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_role(RoleScope::Tenant, "auditor")
            .await
            .unwrap(),
        RoleDeletion::InUse(1)
    );
    store
        .change_membership(tenant.id, bob.id, None, "owner", 12)
        .await
        .unwrap();
    // Invitations hold a role too.
    store
        .invite(&authgate_store::tenants::Invitation {
            tenant_id: tenant.id,
            email: "c@example.com".into(),
            role: "auditor".into(),
            invited_by: None,
            created_at: 13,
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_role(RoleScope::Tenant, "auditor")
            .await
            .unwrap(),
        RoleDeletion::InUse(1)
    );
    store
        .delete_invitation(tenant.id, "c@example.com")
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_role(RoleScope::Tenant, "auditor")
            .await
            .unwrap(),
        RoleDeletion::Deleted
    );
    assert_eq!(
        store
            .delete_role(RoleScope::Tenant, "auditor")
            .await
            .unwrap(),
        RoleDeletion::NotFound
    );
    // A platform role held by a user.
    store
        .set_platform_role(alice.id, Some("admin"), 14)
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_role(RoleScope::Platform, "admin")
            .await
            .unwrap(),
        RoleDeletion::InUse(1)
    );
    // A membership cannot name a role that does not exist.
    assert!(
        store
            .add_member(tenant.id, bob.id, "no-such-role", 15)
            .await
            .is_err()
    );
}

async fn a_tenant_keeps_its_last_owner(store: Store) {
    use authgate_store::tenants::MembershipChange;
    let alice = user(&store, "a", "a@example.com").await;
    let bob = user(&store, "b", "b@example.com").await;
    let tenant = store
        .create_tenant("T", alice.id, "owner", 10)
        .await
        .unwrap();
    assert_eq!(
        store
            .change_membership(tenant.id, alice.id, None, "owner", 11)
            .await
            .unwrap(),
        MembershipChange::LastOwner
    );
    store
        .add_member(tenant.id, bob.id, "owner", 12)
        .await
        .unwrap();
    // Concurrent demotions of both owners: one wins, one owner stays. Several
    // rounds, since a missing lock loses the race only now and then.
    for round in 0..10 {
        let (a, b) = tokio::join!(
            store.change_membership(tenant.id, alice.id, Some("member"), "owner", 13),
            store.change_membership(tenant.id, bob.id, Some("member"), "owner", 13),
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        assert!(
            outcomes.contains(&MembershipChange::Done),
            "round {round}: {outcomes:?}"
        );
        assert!(
            outcomes.contains(&MembershipChange::LastOwner),
            "round {round}: {outcomes:?}"
        );
        let owners: Vec<_> = store
            .members(tenant.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.role == "owner")
            .collect();
        assert_eq!(owners.len(), 1, "round {round}");
        let demoted = if owners[0].user_id == alice.id {
            bob.id
        } else {
            alice.id
        };
        store
            .change_membership(tenant.id, demoted, Some("owner"), "owner", 14)
            .await
            .unwrap();
    }
    assert!(store.delete_tenant(tenant.id).await.unwrap());
    assert!(store.members(tenant.id).await.unwrap().is_empty());
    assert!(store.user_tenants(alice.id).await.unwrap().is_empty());
}

async fn invitations_bind_once_and_keep_existing_memberships(store: Store) {
    use authgate_store::tenants::Invitation;
    let alice = user(&store, "a", "a@example.com").await;
    let one = store
        .create_tenant("One", alice.id, "owner", 10)
        .await
        .unwrap();
    let two = store
        .create_tenant("Two", alice.id, "owner", 10)
        .await
        .unwrap();
    for (tenant, role) in [(one.id, "viewer"), (two.id, "member")] {
        store
            .invite(&Invitation {
                tenant_id: tenant,
                email: "new@example.com".into(),
                role: role.into(),
                invited_by: Some("a".into()),
                created_at: 11,
            })
            .await
            .unwrap();
    }
    let newcomer = user(&store, "n", "new@example.com").await;
    store
        .add_member(two.id, newcomer.id, "admin", 12)
        .await
        .unwrap();
    let bound = store
        .bind_invitations(newcomer.id, "new@example.com", 13)
        .await
        .unwrap();
    assert_eq!(
        bound.len(),
        1,
        "the membership in Two is kept, not overwritten"
    );
    assert_eq!(bound[0].tenant_id, one.id);
    let mine: Vec<(String, String)> = store
        .user_tenants(newcomer.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.tenant.name, t.role))
        .collect();
    assert_eq!(
        mine,
        [
            ("One".to_string(), "viewer".to_string()),
            ("Two".to_string(), "admin".to_string())
        ]
    );
    assert!(
        store
            .bind_invitations(newcomer.id, "new@example.com", 14)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.invitations(one.id).await.unwrap().is_empty());
}

async fn clients_are_stored_hashed_and_revoked(store: Store) {
    use authgate_store::clients::{Client, ClientType, GrantType};
    let machine = Client {
        id: "agc_1".into(),
        name: "robot".into(),
        client_type: ClientType::Confidential,
        secret_hash: Some("ab".repeat(32)),
        scopes: vec!["admin".into(), "reports:read".into()],
        redirect_uris: vec![],
        post_logout_uris: vec![],
        grant_types: vec![GrantType::ClientCredentials],
        consent: false,
        created_at: 1,
        revoked_at: None,
    };
    let spa = Client {
        id: "agc_2".into(),
        name: "spa".into(),
        client_type: ClientType::Public,
        secret_hash: None,
        scopes: vec!["openid".into(), "email".into()],
        redirect_uris: vec![
            "https://app.example/cb".into(),
            "http://127.0.0.1:5173/cb".into(),
        ],
        post_logout_uris: vec!["https://app.example/".into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        consent: true,
        created_at: 2,
        revoked_at: None,
    };
    for client in [&machine, &spa] {
        store.insert_client(client).await.unwrap();
        assert_eq!(
            store.client(&client.id).await.unwrap().as_ref(),
            Some(client)
        );
    }
    assert!(spa.allows(GrantType::RefreshToken) && !spa.allows(GrantType::ClientCredentials));
    assert_eq!(store.clients().await.unwrap(), vec![machine, spa]);
    assert!(store.revoke_client("agc_1", 5).await.unwrap());
    assert!(!store.revoke_client("agc_1", 6).await.unwrap());
    assert_eq!(
        store.client("agc_1").await.unwrap().unwrap().revoked_at,
        Some(5)
    );
    assert_eq!(store.client("nobody").await.unwrap(), None);

    // A machine client registered before app clients existed (its row has
    // the old columns only) is a confidential client of client_credentials.
    sqlx::query(
        "INSERT INTO clients (id, name, secret_hash, scopes, created_at) \
         VALUES ('agc_old', 'old robot', $1, 'reports:read', 3)",
    )
    .bind("cd".repeat(32))
    .execute(store.pool())
    .await
    .unwrap();
    let old = store.client("agc_old").await.unwrap().unwrap();
    assert_eq!(
        (
            old.client_type,
            old.grant_types,
            old.secret_hash,
            old.consent
        ),
        (
            ClientType::Confidential,
            vec![GrantType::ClientCredentials],
            Some("cd".repeat(32)),
            false
        )
    );
}

async fn provider_sessions_record_sign_outs(store: Store) {
    use authgate_store::sessions::SessionState;
    let state = |session: Option<&'static str>, sub: &'static str| {
        let store = store.clone();
        async move {
            store
                .provider_session_state("cognito", session, sub)
                .await
                .unwrap()
                .0
        }
    };
    assert_eq!(
        state(Some("s1"), "alice").await,
        SessionState::Unknown {
            signed_out_at: None
        }
    );
    store
        .record_provider_session("cognito", "s1", "alice", 1_000)
        .await
        .unwrap();
    store
        .record_provider_session("cognito", "s1", "alice", 1_500)
        .await
        .unwrap();
    store
        .record_provider_session("cognito", "s2", "alice", 2_000)
        .await
        .unwrap();
    store
        .record_provider_session("cognito", "b1", "bob", 2_000)
        .await
        .unwrap();
    assert_eq!(state(Some("s1"), "alice").await, SessionState::Live);
    // A session id belongs to its subject only.
    assert_eq!(
        state(Some("s1"), "bob").await,
        SessionState::Unknown {
            signed_out_at: None
        }
    );

    store
        .revoke_provider_sessions("cognito", "alice", 3_000)
        .await
        .unwrap();
    assert_eq!(state(Some("s1"), "alice").await, SessionState::Revoked);
    assert_eq!(state(Some("s2"), "alice").await, SessionState::Revoked);
    assert_eq!(state(Some("b1"), "bob").await, SessionState::Live);
    assert_eq!(
        state(Some("elsewhere"), "alice").await,
        SessionState::Unknown {
            signed_out_at: Some(3_000)
        }
    );
    assert_eq!(
        state(None, "alice").await,
        SessionState::Unknown {
            signed_out_at: Some(3_000)
        }
    );

    // A new session after the sign-out is live; a later sign-out moves the time.
    store
        .record_provider_session("cognito", "s3", "alice", 4_000)
        .await
        .unwrap();
    assert_eq!(state(Some("s3"), "alice").await, SessionState::Live);
    store
        .revoke_provider_sessions("cognito", "alice", 5_000)
        .await
        .unwrap();
    assert_eq!(state(Some("s3"), "alice").await, SessionState::Revoked);
    assert_eq!(
        state(None, "alice").await,
        SessionState::Unknown {
            signed_out_at: Some(5_000)
        }
    );
}

async fn migrate_is_idempotent_and_ping_works(store: Store) {
    // The harness migrated once already.
    store.migrate().await.expect("second migrate");
    store.migrate().await.expect("third migrate");
    store.ping().await.expect("ping");
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let migrations = |engine: &str| {
        std::fs::read_dir(format!(
            "{}/migrations/{engine}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .count() as i64
    };
    assert_eq!(
        migrations("sqlite"),
        migrations("postgres"),
        "one schema, both engines"
    );
    assert_eq!(
        applied,
        migrations("sqlite"),
        "each migration is recorded once"
    );
    assert_eq!(store.count_app_users("google", "nobody").await.unwrap(), 0);
}

async fn app_user_is_found_or_created_by_provider_and_sub(store: Store) {
    assert_eq!(store.find_app_user("google", "s1").await.unwrap(), None);

    let created = store
        .find_or_create_app_user("google", "s1", Some("a@example.com"), Some("Ann"), 1_000)
        .await
        .unwrap();
    assert_eq!(created.provider, "google");
    assert_eq!(created.provider_sub, "s1");
    assert_eq!(created.email.as_deref(), Some("a@example.com"));
    assert_eq!(created.name.as_deref(), Some("Ann"));
    assert_eq!(created.created_at, 1_000);

    let again = store
        .find_or_create_app_user("google", "s1", Some("a@example.com"), Some("Ann"), 2_000)
        .await
        .unwrap();
    assert_eq!(
        again, created,
        "the second call returns the same user unchanged"
    );

    // A changed email is stored; a name of None keeps the stored one.
    let changed = store
        .find_or_create_app_user("google", "s1", Some("b@example.com"), None, 3_000)
        .await
        .unwrap();
    assert_eq!(changed.id, created.id);
    assert_eq!(changed.email.as_deref(), Some("b@example.com"));
    assert_eq!(changed.name.as_deref(), Some("Ann"));
    let stored = store.find_app_user("google", "s1").await.unwrap().unwrap();
    assert_eq!(stored, changed, "the update was persisted");

    // A changed name is stored too; both None keep everything.
    store
        .find_or_create_app_user("google", "s1", None, Some("Anna"), 4_000)
        .await
        .unwrap();
    let kept = store
        .find_or_create_app_user("google", "s1", None, None, 5_000)
        .await
        .unwrap();
    assert_eq!(kept.email.as_deref(), Some("b@example.com"));
    assert_eq!(kept.name.as_deref(), Some("Anna"));
    let stored = store.find_app_user("google", "s1").await.unwrap().unwrap();
    assert_eq!(stored, kept);
    assert_eq!(stored.created_at, 1_000);

    // The key is (provider, sub): the same sub elsewhere is another user.
    let other = store
        .find_or_create_app_user("github", "s1", Some("b@example.com"), None, 6_000)
        .await
        .unwrap();
    assert_ne!(other.id, created.id);
    assert_eq!(other.provider, "github");
    assert_eq!(store.count_app_users("google", "s1").await.unwrap(), 1);
    assert_eq!(store.count_app_users("github", "s1").await.unwrap(), 1);
}

async fn concurrent_first_sign_ins_create_one_app_user(store: Store) {
    const CALLERS: usize = 16;
    let barrier = Arc::new(Barrier::new(CALLERS));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .find_or_create_app_user(
                        "google",
                        "new-sub",
                        Some("n@example.com"),
                        None,
                        i as i64,
                    )
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(
            task.await
                .unwrap()
                .expect("every concurrent call succeeds")
                .id,
        );
    }
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "all callers get one user: {ids:?}"
    );
    assert_eq!(store.count_app_users("google", "new-sub").await.unwrap(), 1);
}

fn new_user<'a>(sub: &'a str, email: &'a str) -> NewEmbeddedUser<'a> {
    NewEmbeddedUser {
        sub,
        email,
        name: Some("Ann"),
        phone: Some("+15550100"),
        password_hash: "$argon2id$fake",
        status: UserStatus::Unconfirmed,
    }
}

async fn embedded_users_are_unique_by_email_and_confirm_once(store: Store) {
    store
        .insert_embedded_user(new_user("u1", "ann@example.com"), 1_000)
        .await
        .unwrap();

    let by_email = store
        .embedded_user_by_email("ann@example.com")
        .await
        .unwrap()
        .expect("found by email");
    assert_eq!(by_email.sub, "u1");
    assert_eq!(by_email.name.as_deref(), Some("Ann"));
    assert_eq!(by_email.phone.as_deref(), Some("+15550100"));
    assert_eq!(by_email.password_hash, "$argon2id$fake");
    assert_eq!(by_email.status, UserStatus::Unconfirmed);
    assert_eq!(by_email.disabled_at, None);
    assert_eq!(by_email.created_at, 1_000);
    let by_sub = store.embedded_user_by_sub("u1").await.unwrap();
    assert_eq!(by_sub.as_ref(), Some(&by_email));
    assert_eq!(
        store
            .embedded_user_by_email("other@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.embedded_user_by_sub("u2").await.unwrap(), None);

    let taken = store
        .insert_embedded_user(new_user("u2", "ann@example.com"), 2_000)
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict)), "got {taken:?}");
    assert_eq!(store.embedded_user_by_sub("u2").await.unwrap(), None);

    store
        .put_code("u1", "sign_up", "h-signup", 9_000, 1_000)
        .await
        .unwrap();
    store
        .put_code("u1", "reset", "h-reset", 9_000, 1_000)
        .await
        .unwrap();
    assert!(store.confirm_embedded_user("u1", 3_000).await.unwrap());
    let confirmed = store.embedded_user_by_sub("u1").await.unwrap().unwrap();
    assert_eq!(confirmed.status, UserStatus::Confirmed);
    assert!(
        store.get_code("u1", "sign_up").await.unwrap().is_some(),
        "the sign-up code stays, to recognise a double submit"
    );
    assert!(
        store.get_code("u1", "reset").await.unwrap().is_some(),
        "codes of other purposes stay"
    );
    assert!(
        !store.confirm_embedded_user("u1", 4_000).await.unwrap(),
        "a confirmed user is not confirmed again"
    );
    assert!(!store.confirm_embedded_user("nobody", 4_000).await.unwrap());
}

async fn codes_are_replaced_counted_and_deleted(store: Store) {
    store
        .insert_embedded_user(new_user("u1", "ann@example.com"), 1_000)
        .await
        .unwrap();
    assert_eq!(store.get_code("u1", "reset").await.unwrap(), None);
    assert_eq!(store.get_code("nobody", "reset").await.unwrap(), None);

    store
        .put_code("u1", "reset", "h1", 5_000, 1_000)
        .await
        .unwrap();
    let first = store
        .take_code_attempt("u1", "reset", 3, 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.code_hash.as_str(), first.attempts), ("h1", 1));
    let second = store
        .take_code_attempt("u1", "reset", 3, 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.attempts, 2);
    let code = store.get_code("u1", "reset").await.unwrap().unwrap();
    assert_eq!(
        (code.code_hash.as_str(), code.attempts, code.expires_at),
        ("h1", 2, 5_000)
    );
    // An expired code gives no try, and the count does not move.
    assert_eq!(
        store
            .take_code_attempt("u1", "reset", 3, 5_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get_code("u1", "reset")
            .await
            .unwrap()
            .unwrap()
            .attempts,
        2
    );
    // The third try is the last one.
    assert!(
        store
            .take_code_attempt("u1", "reset", 3, 2_000)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .take_code_attempt("u1", "reset", 3, 2_000)
            .await
            .unwrap(),
        None
    );

    // A new code replaces the old one and resets the attempts.
    store
        .put_code("u1", "reset", "h2", 8_000, 2_000)
        .await
        .unwrap();
    let code = store.get_code("u1", "reset").await.unwrap().unwrap();
    assert_eq!(
        (code.code_hash.as_str(), code.attempts, code.expires_at),
        ("h2", 0, 8_000)
    );
    let code = store
        .take_code_attempt("u1", "reset", 3, 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((code.code_hash.as_str(), code.attempts), ("h2", 1));

    store.delete_code("u1", "reset").await.unwrap();
    assert_eq!(store.get_code("u1", "reset").await.unwrap(), None);
    assert_eq!(
        store
            .take_code_attempt("u1", "reset", 3, 2_000)
            .await
            .unwrap(),
        None
    );
    store
        .delete_code("u1", "reset")
        .await
        .expect("deleting twice is fine");
}

async fn codes_need_an_existing_user(store: Store) {
    // Foreign keys hold on every pooled connection (SQLite turns them on per
    // connection), so a code for an unknown user is refused.
    for _ in 0..10 {
        let orphan = store.put_code("nobody", "reset", "h", 5_000, 1_000).await;
        assert!(
            matches!(orphan, Err(StoreError::Other(_))),
            "got {orphan:?}"
        );
    }
    assert_eq!(store.get_code("nobody", "reset").await.unwrap(), None);
    if store.engine() == Engine::Sqlite {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }
}

async fn new_family(store: &Store, family_id: &str, sub: &str, token_hash: &str, expires_at: i64) {
    let family = NewFamily {
        family_id,
        sub,
        auth_time: 500,
        token_hash: Some(token_hash),
        expires_at,
    };
    store.create_refresh_family(family, 1_000).await.unwrap();
}

/// A family whose tokens name their generation (nothing stored per token).
async fn new_generation_family(store: &Store, family_id: &str, sub: &str, expires_at: i64) {
    let family = NewFamily {
        family_id,
        sub,
        auth_time: 500,
        token_hash: None,
        expires_at,
    };
    store.create_refresh_family(family, 1_000).await.unwrap();
}

async fn families_advance_one_generation_at_a_time(store: Store) {
    let advanced = || Advanced {
        sub: "s1".into(),
        auth_time: 500,
        user: None,
    };
    let rotated = || AdvanceOutcome::Rotated(advanced());
    let advance = |family: &'static str, generation: i64, now: i64, interval: i64| {
        let store = store.clone();
        async move {
            store
                .advance_refresh_family(family, generation, now, interval)
                .await
                .unwrap()
        }
    };

    new_generation_family(&store, "g1", "s1", 100_000).await;
    assert_eq!(advance("g1", 0, 2_000, 0).await, rotated());
    assert_eq!(advance("g1", 1, 2_001, 0).await, rotated());
    assert_eq!(
        advance("g1", 0, 2_002, 0).await,
        AdvanceOutcome::Reused { sub: "s1".into() },
        "a generation two rotations old is reuse"
    );
    assert!(
        !is_live(&store, "g1", "s1", 2_003).await,
        "reuse revoked it"
    );
    assert_eq!(advance("g1", 2, 2_004, 0).await, AdvanceOutcome::Revoked);

    new_generation_family(&store, "g2", "s1", 100_000).await;
    assert_eq!(advance("g2", 0, 2_000, 1_000).await, rotated());
    assert_eq!(
        advance("g2", 0, 2_900, 1_000).await,
        AdvanceOutcome::Retried(advanced()),
        "within the interval, the child still unused"
    );
    assert_eq!(advance("g2", 1, 2_950, 1_000).await, rotated());
    assert_eq!(
        advance("g2", 0, 2_960, 1_000).await,
        AdvanceOutcome::Reused { sub: "s1".into() },
        "a retry after the child was used is reuse"
    );

    new_generation_family(&store, "g3", "s1", 100_000).await;
    assert_eq!(advance("g3", 0, 2_000, 1_000).await, rotated());
    assert_eq!(
        advance("g3", 0, 3_001, 1_000).await,
        AdvanceOutcome::Reused { sub: "s1".into() },
        "after the interval a retry is reuse"
    );

    new_generation_family(&store, "g4", "s1", 100_000).await;
    assert_eq!(
        advance("g4", 5, 2_000, 1_000).await,
        AdvanceOutcome::Unknown,
        "a generation not reached yet"
    );
    assert!(
        is_live(&store, "g4", "s1", 2_000).await,
        "and nothing revoked"
    );
    assert_eq!(
        advance("g4", 0, 100_000, 1_000).await,
        AdvanceOutcome::Unknown,
        "expired"
    );
    assert_eq!(
        advance("nope", 0, 2_000, 1_000).await,
        AdvanceOutcome::Unknown
    );
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0, "a rotation writes no token row");

    // The rotation answers the family's embedded user, as stored, in the
    // same statement (the retry too); a disabled user comes back disabled.
    store
        .insert_embedded_user(new_user("u1", "ann@example.com"), 1_000)
        .await
        .unwrap();
    let stored = store.embedded_user_by_sub("u1").await.unwrap();
    assert!(stored.is_some());
    new_generation_family(&store, "g5", "u1", 100_000).await;
    let of_u1 = |user| Advanced {
        sub: "u1".into(),
        auth_time: 500,
        user,
    };
    assert_eq!(
        advance("g5", 0, 2_000, 1_000).await,
        AdvanceOutcome::Rotated(of_u1(stored.clone()))
    );
    assert_eq!(
        advance("g5", 0, 2_100, 1_000).await,
        AdvanceOutcome::Retried(of_u1(stored.clone()))
    );
    store
        .set_embedded_disabled("u1", Some(2_200), 2_200)
        .await
        .unwrap();
    match advance("g5", 1, 2_300, 1_000).await {
        AdvanceOutcome::Rotated(Advanced {
            user: Some(user), ..
        }) => assert_eq!(user.disabled_at, Some(2_200)),
        other => panic!("expected a rotation with the user, got {other:?}"),
    }
}

async fn concurrent_advances_of_one_generation_advance_once(store: Store) {
    const CALLERS: usize = 8;
    new_generation_family(&store, "g1", "s1", 100_000).await;
    let barrier = Arc::new(Barrier::new(CALLERS));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.advance_refresh_family("g1", 0, 2_000, 10_000).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().expect("no caller gets an error"));
    }
    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, AdvanceOutcome::Rotated { .. }))
        .count();
    assert_eq!(rotated, 1, "exactly one caller rotates: {outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            AdvanceOutcome::Rotated { .. } | AdvanceOutcome::Retried { .. }
        )),
        "the others retry, and get the same child: {outcomes:?}"
    );
    assert!(matches!(
        store
            .advance_refresh_family("g1", 1, 2_001, 10_000)
            .await
            .unwrap(),
        AdvanceOutcome::Rotated { .. }
    ));
}

/// The stamps of some subjects, and whether each write moved them.
struct Stamps {
    store: Store,
    last: HashMap<&'static str, ContextStamp>,
}

impl Stamps {
    async fn of(store: &Store, subs: &[&'static str]) -> Self {
        let mut last = HashMap::new();
        for sub in subs {
            last.insert(*sub, Self::read(store, sub).await);
        }
        Self {
            store: store.clone(),
            last,
        }
    }

    async fn read(store: &Store, sub: &str) -> ContextStamp {
        store
            .context_snapshot("embedded", sub)
            .await
            .unwrap()
            .expect("app user")
            .stamp
    }

    /// After `step`, exactly the subjects in `moved` have a new stamp.
    async fn after(&mut self, step: &str, moved: &[&str]) {
        let subs: Vec<&'static str> = self.last.keys().copied().collect();
        for sub in subs {
            let now = Self::read(&self.store, sub).await;
            let changed = now != self.last[sub];
            assert_eq!(changed, moved.contains(&sub), "{step}: the stamp of {sub}");
            self.last.insert(sub, now);
        }
    }
}

async fn context_versions_move_with_every_write_that_changes_a_context(store: Store) {
    use authgate_store::catalog::{Role, RoleScope};
    let alice = user(&store, "a", "a@example.com").await;
    let bob = user(&store, "b", "b@example.com").await;
    let mut stamps = Stamps::of(&store, &["a", "b"]).await;

    let tenant = store
        .create_tenant("T", alice.id, "owner", 10)
        .await
        .unwrap();
    stamps.after("a tenant created by alice", &["a"]).await;
    store
        .add_member(tenant.id, bob.id, "member", 11)
        .await
        .unwrap();
    stamps.after("bob added", &["b"]).await;
    store
        .change_membership(tenant.id, bob.id, Some("viewer"), "owner", 12)
        .await
        .unwrap();
    stamps.after("bob's role changed", &["b"]).await;
    store.rename_tenant(tenant.id, "T2", 13).await.unwrap();
    stamps.after("the tenant renamed", &["a", "b"]).await;
    store.rename_tenant(tenant.id, "T2", 14).await.unwrap();
    stamps.after("the tenant given the same name", &[]).await;
    store
        .update_role(
            RoleScope::Tenant,
            "viewer",
            "reads",
            &["data:read".into(), "x:read".into()],
            15,
        )
        .await
        .unwrap();
    stamps
        .after("the viewer role's grants changed", &["b"])
        .await;
    store
        .set_platform_role(alice.id, Some("admin"), 16)
        .await
        .unwrap();
    stamps.after("alice made admin", &["a"]).await;
    store
        .update_role(RoleScope::Platform, "admin", "all", &["*".into()], 17)
        .await
        .unwrap();
    stamps.after("the admin role rewritten", &["a"]).await;
    store.set_app_user_mfa(bob.id, true, 18).await.unwrap();
    stamps.after("bob enrolled an authenticator", &["b"]).await;
    store
        .upsert_app_user("embedded", "b", Some("b@example.com"), None, 19)
        .await
        .unwrap();
    stamps.after("bob signed in again, nothing new", &[]).await;
    store
        .upsert_app_user("embedded", "b", Some("b2@example.com"), None, 20)
        .await
        .unwrap();
    stamps.after("bob's address changed", &["b"]).await;
    let auditor = Role {
        scope: RoleScope::Tenant,
        key: "auditor".into(),
        description: "reads".into(),
        grants: vec!["audit:read".into()],
        created_at: 21,
        updated_at: 21,
    };
    store.insert_role(&auditor).await.unwrap();
    stamps.after("a role nobody holds created", &[]).await;
    store
        .change_membership(tenant.id, bob.id, None, "owner", 22)
        .await
        .unwrap();
    stamps.after("bob removed", &["b"]).await;
    store.delete_tenant(tenant.id).await.unwrap();
    stamps.after("the tenant deleted", &["a"]).await;

    new_generation_family(&store, "fa", "a", 100_000).await;
    let family = store
        .family_session("fa", "a", "embedded", 2_000)
        .await
        .unwrap();
    assert!(family.live);
    assert_eq!(
        family.context,
        Some(Stamps::read(&store, "a").await),
        "the session check reads the same stamp"
    );
    store.delete_app_user(alice.id).await.unwrap();
    let family = store
        .family_session("fa", "a", "embedded", 2_000)
        .await
        .unwrap();
    assert_eq!(family.context, None, "no app user, no stamp");
}

async fn refresh_tokens_rotate_detect_reuse_and_revoke(store: Store) {
    new_family(&store, "f1", "s1", "h0", 100_000).await;
    assert!(is_live(&store, "f1", "s1", 1_000).await);
    assert!(!is_live(&store, "f1", "someone-else", 1_000).await);

    let rotated = store
        .rotate_refresh_token("h0", "h1", 1_100, 0)
        .await
        .unwrap();
    let expected = RotateOutcome::Rotated {
        family_id: "f1".into(),
        sub: "s1".into(),
        auth_time: 500,
    };
    assert_eq!(rotated, expected);
    let rotated = store
        .rotate_refresh_token("h1", "h2", 1_200, 0)
        .await
        .unwrap();
    assert_eq!(rotated, expected, "the new token rotates in turn");

    // Presenting a rotated token again is reuse: the family is revoked.
    let reused = store
        .rotate_refresh_token("h0", "x1", 1_300, 0)
        .await
        .unwrap();
    assert_eq!(
        reused,
        RotateOutcome::Reused {
            family_id: "f1".into(),
            sub: "s1".into()
        }
    );
    assert!(!is_live(&store, "f1", "s1", 1_300).await);
    let latest = store
        .rotate_refresh_token("h2", "x2", 1_400, 0)
        .await
        .unwrap();
    assert_eq!(
        latest,
        RotateOutcome::Revoked,
        "the newest token died with its family"
    );
    assert_eq!(
        store
            .rotate_refresh_token("h0", "x3", 1_500, 0)
            .await
            .unwrap(),
        RotateOutcome::Revoked
    );

    assert_eq!(
        store
            .rotate_refresh_token("no-such-hash", "x4", 1_500, 0)
            .await
            .unwrap(),
        RotateOutcome::Unknown
    );

    // An expired token (expires_at <= now) is unknown, and not reuse.
    new_family(&store, "f2", "s1", "e0", 2_000).await;
    assert_eq!(
        store
            .rotate_refresh_token("e0", "e1", 2_000, 0)
            .await
            .unwrap(),
        RotateOutcome::Unknown
    );
    assert!(is_live(&store, "f2", "s1", 1_999).await, "not revoked");
    assert!(!is_live(&store, "f2", "s1", 2_000).await, "expired");
    assert_eq!(
        store
            .rotate_refresh_token("e1", "e2", 1_500, 0)
            .await
            .unwrap(),
        RotateOutcome::Unknown
    );

    // Revoking a user's families touches that user's live families only.
    new_family(&store, "a1", "alice", "a1-t", 100_000).await;
    new_family(&store, "a2", "alice", "a2-t", 100_000).await;
    new_family(&store, "a3", "alice", "a3-t", 100_000).await;
    new_family(&store, "b1", "bob", "b1-t", 100_000).await;
    store.revoke_family("a3", "sign_out", 1_500).await.unwrap();
    assert_eq!(
        store
            .revoke_families_of("alice", "disabled", 2_000)
            .await
            .unwrap(),
        2
    );
    for family in ["a1", "a2", "a3"] {
        assert!(!is_live(&store, family, "alice", 2_000).await, "{family}");
    }
    assert!(is_live(&store, "b1", "bob", 2_000).await);
    assert_eq!(
        store
            .rotate_refresh_token("a1-t", "n1", 2_100, 0)
            .await
            .unwrap(),
        RotateOutcome::Revoked
    );
    assert!(matches!(
        store
            .rotate_refresh_token("b1-t", "n2", 2_100, 0)
            .await
            .unwrap(),
        RotateOutcome::Rotated { .. }
    ));
    assert_eq!(
        store
            .revoke_families_of("alice", "disabled", 3_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .revoke_families_of("nobody", "disabled", 3_000)
            .await
            .unwrap(),
        0
    );
}

/// Within the reuse interval, concurrent presentations of one token (each
/// deriving the same child) make one child: one rotates, the others are
/// retries answered with it, and the session lives. Later, or for an older
/// token, it is reuse and the family ends.
async fn retries_within_the_interval_share_one_child(store: Store) {
    const CALLERS: usize = 6;
    new_family(&store, "f1", "s1", "h0", 100_000).await;
    let barrier = Arc::new(Barrier::new(CALLERS));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.rotate_refresh_token("h0", "h1", 2_000, 10_000).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().expect("no caller gets an error"));
    }
    let count = |f: fn(&RotateOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    assert_eq!(
        (
            count(|o| matches!(o, RotateOutcome::Rotated { .. })),
            count(|o| matches!(o, RotateOutcome::Retried { .. }))
        ),
        (1, CALLERS - 1),
        "{outcomes:?}"
    );
    assert!(is_live(&store, "f1", "s1", 2_000).await);
    // A retry with another child is no retry.
    new_family(&store, "f2", "s2", "g0", 100_000).await;
    store
        .rotate_refresh_token("g0", "g1", 2_000, 10_000)
        .await
        .unwrap();
    assert!(matches!(
        store
            .rotate_refresh_token("g0", "forged", 2_100, 10_000)
            .await
            .unwrap(),
        RotateOutcome::Reused { .. }
    ));
    // After the interval: reuse.
    new_family(&store, "f3", "s3", "k0", 100_000).await;
    store
        .rotate_refresh_token("k0", "k1", 2_000, 10_000)
        .await
        .unwrap();
    assert!(matches!(
        store
            .rotate_refresh_token("k0", "k1", 12_001, 10_000)
            .await
            .unwrap(),
        RotateOutcome::Reused { .. }
    ));
    assert!(!is_live(&store, "f3", "s3", 12_001).await);
    // An older token of the family (its child was rotated too): reuse.
    new_family(&store, "f4", "s4", "m0", 100_000).await;
    store
        .rotate_refresh_token("m0", "m1", 2_000, 10_000)
        .await
        .unwrap();
    store
        .rotate_refresh_token("m1", "m2", 2_100, 10_000)
        .await
        .unwrap();
    assert!(matches!(
        store
            .rotate_refresh_token("m0", "m1", 2_200, 10_000)
            .await
            .unwrap(),
        RotateOutcome::Reused { .. }
    ));
    // Strict rotation (0): a retry is reuse.
    new_family(&store, "f5", "s5", "n0", 100_000).await;
    store
        .rotate_refresh_token("n0", "n1", 2_000, 0)
        .await
        .unwrap();
    assert!(matches!(
        store
            .rotate_refresh_token("n0", "n1", 2_001, 0)
            .await
            .unwrap(),
        RotateOutcome::Reused { .. }
    ));
}

async fn concurrent_rotation_of_one_token_rotates_once(store: Store) {
    const CALLERS: usize = 8;
    new_family(&store, "f1", "s1", "h0", 100_000).await;
    let barrier = Arc::new(Barrier::new(CALLERS));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .rotate_refresh_token("h0", &format!("new-{i}"), 2_000, 0)
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().expect("no caller gets an error"));
    }
    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, RotateOutcome::Rotated { .. }))
        .count();
    assert_eq!(rotated, 1, "exactly one caller rotates: {outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            RotateOutcome::Rotated { .. } | RotateOutcome::Reused { .. } | RotateOutcome::Revoked
        )),
        "the others are reuse or revoked: {outcomes:?}"
    );
    assert!(
        !is_live(&store, "f1", "s1", 2_000).await,
        "reuse revoked the family"
    );
}

fn key(kid: &str, created_at: i64) -> StoredKey {
    StoredKey {
        kid: kid.into(),
        alg: "EdDSA".into(),
        private_der_b64: format!("der-of-{kid}"),
        created_at,
        retired_at: None,
    }
}

/// Two instances starting at once on an empty database both add a key:
/// afterwards exactly one key may be unretired (the one that signs).
async fn concurrent_key_additions_leave_one_signing_key(store: Store) {
    for round in 0..20 {
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(6));
        let adds: Vec<_> = (0..6)
            .map(|i| {
                let store = store.clone();
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    let created_at = 10_000 + round * 10 + i;
                    store
                        .add_signing_key(&key(&format!("k{round}-{i}"), created_at))
                        .await
                })
            })
            .collect();
        for add in adds {
            add.await.unwrap().unwrap();
        }
        let unretired = store
            .signing_keys()
            .await
            .unwrap()
            .into_iter()
            .filter(|k| k.retired_at.is_none())
            .count();
        assert_eq!(unretired, 1, "round {round}");
    }
}

async fn signing_keys_retire_and_prune(store: Store) {
    assert!(store.signing_keys().await.unwrap().is_empty());
    store.add_signing_key(&key("k1", 1_000)).await.unwrap();
    store.add_signing_key(&key("k2", 2_000)).await.unwrap();

    let keys = store.signing_keys().await.unwrap();
    let kids: Vec<_> = keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["k2", "k1"], "newest first");
    assert_eq!(keys[0], key("k2", 2_000), "the newest key signs, unretired");
    assert_eq!(keys[1].retired_at, Some(2_000), "the older key is retired");
    assert_eq!(keys[1].private_der_b64, "der-of-k1");

    // A third key retires k2; k1 keeps its retirement time.
    store.add_signing_key(&key("k3", 3_000)).await.unwrap();
    let retired: Vec<_> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.retired_at))
        .collect();
    let expected = [("k3", None), ("k2", Some(3_000)), ("k1", Some(2_000))];
    assert_eq!(retired, expected.map(|(kid, at)| (kid.to_string(), at)));

    // Pruning deletes retired keys older than `before`, never the signing key.
    assert_eq!(
        store.prune_signing_keys(2_000).await.unwrap(),
        0,
        "strictly older"
    );
    assert_eq!(store.prune_signing_keys(2_500).await.unwrap(), 1);
    let kids: Vec<_> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k3", "k2"]);
    assert_eq!(store.prune_signing_keys(1_000_000).await.unwrap(), 1);
    let kids: Vec<_> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k3"]);
}

fn event(
    kind: authgate_core::EventKind,
    reason: Option<&'static str>,
    subject: Option<&str>,
    at_millis: i64,
) -> AuditEvent {
    AuditEvent {
        kind,
        outcome: if reason.is_some() {
            AuditOutcome::Failure
        } else {
            AuditOutcome::Success
        },
        reason,
        provider: authgate_core::ProviderId::EMBEDDED,
        subject: subject.map(str::to_string),
        actor: subject.map(|s| format!("admin-of-{s}")),
        target: None,
        method: Some("password"),
        email: Some(format!("{}@example.com", subject.unwrap_or("anon"))),
        ip: Some("127.0.0.1".into()),
        request_id: Some(format!("req-{at_millis}")),
        at_millis,
    }
}

/// The recorder's largest batch (512 events, written as eight 64-row
/// statements) and an odd one (cut into 64, 16, 4 and 1 rows): every event
/// written, in the order given.
async fn a_full_audit_batch_is_written_whole_in_order(store: Store) {
    let events: Vec<AuditEvent> = (0..512)
        .map(|i| {
            event(
                authgate_core::EventKind::Refresh,
                None,
                Some("batch"),
                10_000 + i,
            )
        })
        .collect();
    store.insert_audit_events(&events).await.unwrap();
    let rows = store
        .audit_events(&AuditQuery {
            subject: Some("batch".into()),
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 512);
    let mut times: Vec<i64> = rows.iter().map(|r| r.at).collect();
    times.reverse();
    assert_eq!(
        times,
        (10_000..10_512).collect::<Vec<i64>>(),
        "ids follow the batch's order"
    );
}

async fn audit_events_filter_newest_first(store: Store) {
    let events = [
        event(authgate_core::EventKind::SignIn, None, Some("alice"), 1_000),
        event(
            authgate_core::EventKind::SignIn,
            Some("invalid_credentials"),
            None,
            2_000,
        ),
        event(
            authgate_core::EventKind::Refresh,
            None,
            Some("alice"),
            3_000,
        ),
        event(
            authgate_core::EventKind::SignIn,
            Some("invalid_credentials"),
            Some("bob"),
            4_000,
        ),
    ];
    store.insert_audit_events(&events[..1]).await.unwrap();
    store.insert_audit_events(&events[1..]).await.unwrap();
    let times = |rows: Vec<AuditRow>| rows.into_iter().map(|r| r.at).collect::<Vec<_>>();
    let query = |q: AuditQuery| {
        let store = store.clone();
        async move { times(store.audit_events(&q).await.unwrap()) }
    };

    // No filter (limit 0 means the default): everything, newest first.
    let all = store.audit_events(&AuditQuery::default()).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let newest = &all[0];
    assert_eq!(newest.at, 4_000);
    assert_eq!(newest.kind, "sign_in");
    assert_eq!(newest.outcome, "failure");
    assert_eq!(newest.reason.as_deref(), Some("invalid_credentials"));
    assert_eq!(newest.provider, "embedded");
    assert_eq!(newest.subject.as_deref(), Some("bob"));
    assert_eq!(newest.actor.as_deref(), Some("admin-of-bob"));
    assert_eq!(newest.email.as_deref(), Some("bob@example.com"));
    assert_eq!(newest.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(newest.request_id.as_deref(), Some("req-4000"));
    assert_eq!(all[2].subject, None);
    assert_eq!(all[3].outcome, "success");
    assert_eq!(all[3].reason, None);

    let subject = |s: &str| AuditQuery {
        subject: Some(s.into()),
        ..Default::default()
    };
    assert_eq!(query(subject("alice")).await, [3_000, 1_000]);
    assert_eq!(query(subject("nobody")).await, [] as [i64; 0]);
    let kind = AuditQuery {
        kind: Some("sign_in".into()),
        ..Default::default()
    };
    assert_eq!(query(kind).await, [4_000, 2_000, 1_000]);
    let reason = AuditQuery {
        reason: Some("invalid_credentials".into()),
        ..Default::default()
    };
    assert_eq!(query(reason).await, [4_000, 2_000]);
    let email = AuditQuery {
        email: Some("anon@example.com".into()),
        ..Default::default()
    };
    assert_eq!(query(email).await, [2_000]);
    let since = AuditQuery {
        since: Some(3_000),
        ..Default::default()
    };
    assert_eq!(query(since).await, [4_000, 3_000], "since is inclusive");
    let limit = AuditQuery {
        limit: 2,
        ..Default::default()
    };
    assert_eq!(query(limit).await, [4_000, 3_000]);
    let combined = AuditQuery {
        subject: Some("alice".into()),
        kind: Some("sign_in".into()),
        ..Default::default()
    };
    assert_eq!(query(combined).await, [1_000]);
    let combined = AuditQuery {
        subject: Some("alice".into()),
        since: Some(2_000),
        limit: 1,
        ..Default::default()
    };
    assert_eq!(query(combined).await, [3_000]);
}

async fn login_transactions_are_tried_a_bounded_number_of_times_expire_and_replace_an_accounts_others(
    store: Store,
) {
    use authgate_store::login::NewLoginTransaction;
    let new = |handle: &'static str, expires_at| NewLoginTransaction {
        handle_hash: handle,
        provider: "embedded",
        email: "lt@example.com",
        sub: None,
        exclusive: false,
        proved: "password",
        next_step: "totp",
        provider_state: "{\"sub\":\"s\"}",
        expires_at,
        created_at: 1_000,
    };
    store
        .create_login_transaction(&new("h1", 10_000))
        .await
        .unwrap();
    for attempt in 1..=3 {
        let taken = store
            .take_login_attempt("h1", 3, 2_000)
            .await
            .unwrap()
            .expect("a live transaction with tries left");
        assert_eq!(taken.attempts, attempt);
        assert_eq!(taken.email, "lt@example.com");
        assert_eq!(taken.next_step, "totp");
        assert_eq!(taken.provider_state, "{\"sub\":\"s\"}");
    }
    assert!(
        store
            .take_login_attempt("h1", 3, 2_000)
            .await
            .unwrap()
            .is_none(),
        "out of tries"
    );
    store
        .create_login_transaction(&new("h2", 10_000))
        .await
        .unwrap();
    assert!(
        store
            .take_login_attempt("h2", 3, 10_000)
            .await
            .unwrap()
            .is_none(),
        "expired at its expiry time"
    );
    store
        .create_login_transaction(&new("h3", 10_000))
        .await
        .unwrap();
    store.delete_login_transaction("h3").await.unwrap();
    assert!(
        store
            .take_login_attempt("h3", 3, 2_000)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .take_login_attempt("unknown", 3, 2_000)
            .await
            .unwrap()
            .is_none()
    );
}

const TOTP_A: &str = "JBSWY3DPEHPK3PXPAAAAAAAAAAAAAAAA";
const TOTP_B: &str = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU";
const PENDING: &str = "PENDINGPENDINGPENDINGPENDINGPEND";
const STATE: &str = "{\"session\":\"provider-session-state\"}";
const INSTANCE: &str = "installation-secret-value";
const DER: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC";

/// One value in every sealed column: two users' TOTP secrets (one pending),
/// a login transaction, an installation secret and two signing keys.
async fn write_one_secret_of_each_kind(store: &Store) {
    for (sub, email) in [("c1", "one@example.com"), ("c2", "two@example.com")] {
        store
            .insert_embedded_user(
                NewEmbeddedUser {
                    sub,
                    email,
                    name: None,
                    phone: None,
                    password_hash: "h",
                    status: UserStatus::Confirmed,
                },
                1,
            )
            .await
            .unwrap();
    }
    store.activate_totp("c1", TOTP_A, 7, 3).await.unwrap();
    store.activate_totp("c2", TOTP_B, 7, 3).await.unwrap();
    store.set_pending_totp("c2", PENDING, 4).await.unwrap();
    assert_eq!(
        store.instance_secret("k", INSTANCE, 1).await.unwrap(),
        INSTANCE
    );
    store
        .create_login_transaction(&authgate_store::login::NewLoginTransaction {
            handle_hash: "hc",
            provider: "embedded",
            email: "one@example.com",
            sub: None,
            exclusive: false,
            proved: "password",
            next_step: "mfa_setup",
            provider_state: STATE,
            expires_at: 10_000,
            created_at: 1,
        })
        .await
        .unwrap();
    for (kid, at) in [("k1", 5), ("k2", 6)] {
        store
            .add_signing_key(&StoredKey {
                kid: kid.into(),
                alg: "RS256".into(),
                private_der_b64: format!("{DER}{kid}"),
                created_at: at,
                retired_at: None,
            })
            .await
            .unwrap();
    }
}

/// What the store answers for each of those secrets.
async fn read_every_secret(store: &Store) -> Result<Vec<String>, StoreError> {
    let c1 = store.totp_state("c1").await?;
    let c2 = store.totp_state("c2").await?;
    let mut read = vec![
        c1.active_secret.unwrap_or_default(),
        c2.active_secret.unwrap_or_default(),
        c2.pending_secret.unwrap_or_default(),
        store.instance_secret("k", "other", 2).await?,
    ];
    read.extend(
        store
            .signing_keys()
            .await?
            .into_iter()
            .map(|k| k.private_der_b64),
    );
    Ok(read)
}

fn every_secret() -> Vec<String> {
    [TOTP_A, TOTP_B, PENDING, INSTANCE]
        .into_iter()
        .map(str::to_string)
        .chain([format!("{DER}k2"), format!("{DER}k1")])
        .collect()
}

/// Every value of every sealed column as it is on disk.
async fn raw_sealed_values(store: &Store) -> Vec<String> {
    use sqlx::Row;
    let mut values = Vec::new();
    for column in authgate_store::cipher::SEALED_COLUMNS {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM {} WHERE {} IS NOT NULL ORDER BY {}",
            column.column, column.table, column.column, column.row_id
        )))
        .fetch_all(store.pool())
        .await
        .unwrap();
        values.extend(rows.iter().map(|r| r.try_get::<String, _>(0).unwrap()));
    }
    values
}

fn sealing_key(byte: u8) -> Arc<authgate_store::cipher::SealingKey> {
    Arc::new(authgate_store::cipher::SealingKey::new(&[byte; 32]))
}

async fn secret_fields_are_sealed_and_bound_to_their_row(store: Store) {
    let store = store.with_cipher(sealing_key(1));
    write_one_secret_of_each_kind(&store).await;
    assert_eq!(read_every_secret(&store).await.unwrap(), every_secret());
    let taken = store.take_login_attempt("hc", 3, 2).await.unwrap().unwrap();
    assert_eq!(taken.provider_state, STATE);

    let raw = raw_sealed_values(&store).await;
    assert_eq!(raw.len(), 7);
    for value in &raw {
        assert!(value.starts_with("sealed:v1:"), "{value}");
        for secret in every_secret().iter().map(String::as_str).chain([STATE]) {
            assert!(!value.contains(secret), "{secret} is on disk: {value}");
        }
    }

    // A value copied to another row (user c1's TOTP secret into c2's row,
    // key k1 under k2's id) does not open: it is refused, not used.
    for copy in [
        "UPDATE embedded_totp SET active_secret = \
         (SELECT active_secret FROM embedded_totp WHERE sub = 'c1') WHERE sub = 'c2'",
        "UPDATE signing_keys SET private_der = \
         (SELECT private_der FROM signing_keys WHERE kid = 'k1') WHERE kid = 'k2'",
    ] {
        sqlx::query(copy).execute(store.pool()).await.unwrap();
    }
    let err = store.totp_state("c2").await.unwrap_err().to_string();
    assert!(
        err.contains("embedded_totp.active_secret of row c2 does not decrypt"),
        "{err}"
    );
    let err = store.signing_keys().await.unwrap_err().to_string();
    assert!(err.contains("signing_keys.private_der of row k2"), "{err}");
    assert_eq!(
        store
            .totp_state("c1")
            .await
            .unwrap()
            .active_secret
            .as_deref(),
        Some(TOTP_A),
        "the original row still opens"
    );
}

async fn plain_rows_are_sealed_at_start_and_rewrapped_under_a_new_key(store: Store) {
    // An earlier version stored the secrets in plain text.
    write_one_secret_of_each_kind(&store).await;
    let plain = raw_sealed_values(&store).await;
    assert!(plain.iter().any(|v| v == TOTP_A));

    let under_a = store.clone().with_cipher(sealing_key(1));
    let report = under_a.seal_secrets(None).await.unwrap();
    assert_eq!(
        (report.sealed_plain, report.rewrapped, report.current),
        (7, 0, 0)
    );
    assert!(
        raw_sealed_values(&under_a)
            .await
            .iter()
            .all(|v| v.starts_with("sealed:v1:"))
    );
    assert_eq!(read_every_secret(&under_a).await.unwrap(), every_secret());
    let again = under_a.seal_secrets(None).await.unwrap();
    assert_eq!(
        (again.sealed_plain, again.current),
        (0, 7),
        "a second start changes nothing"
    );

    // A new key without the old one: refused by name, and nothing changes.
    let under_b = store.clone().with_cipher(sealing_key(2));
    let before = raw_sealed_values(&under_b).await;
    let err = under_b.seal_secrets(None).await.unwrap_err().to_string();
    let key_a = authgate_store::cipher::SealingKey::new(&[1; 32]);
    assert!(
        err.contains(key_a.id()) && err.contains("keys rewrap"),
        "{err}"
    );
    assert_eq!(
        raw_sealed_values(&under_b).await,
        before,
        "no partial write"
    );
    assert!(read_every_secret(&under_b).await.is_err());

    // With the old key: every value is re-sealed under the new one.
    let report = under_b.seal_secrets(Some(&key_a)).await.unwrap();
    assert_eq!((report.rewrapped, report.current), (7, 0));
    assert_eq!(read_every_secret(&under_b).await.unwrap(), every_secret());
    assert!(
        read_every_secret(&under_a).await.is_err(),
        "the old key no longer opens them"
    );
    let plain_store = store.with_cipher(Arc::new(authgate_store::cipher::PlainText));
    let err = read_every_secret(&plain_store)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no encryption key is configured"), "{err}");
}

fn stored_passkey(id: &str, sub: &str, created_at: i64) -> authgate_store::passkeys::StoredPasskey {
    authgate_store::passkeys::StoredPasskey {
        credential_id: id.into(),
        sub: sub.into(),
        name: Some(format!("key {id}")),
        passkey: format!("{{\"cred\":\"{id}\",\"counter\":0}}"),
        backed_up: false,
        created_at,
        last_used_at: None,
    }
}

async fn passkeys_are_unique_across_users_updated_at_use_and_go_with_their_user(store: Store) {
    for (sub, email) in [
        ("pk-ann", "pk-ann@example.com"),
        ("pk-bob", "pk-bob@example.com"),
    ] {
        store
            .insert_embedded_user(new_user(sub, email), 1_000)
            .await
            .unwrap();
    }
    store
        .insert_passkey(&stored_passkey("cred-2", "pk-ann", 20))
        .await
        .unwrap();
    store
        .insert_passkey(&stored_passkey("cred-1", "pk-ann", 10))
        .await
        .unwrap();
    assert!(
        matches!(
            store
                .insert_passkey(&stored_passkey("cred-1", "pk-bob", 30))
                .await,
            Err(StoreError::Conflict)
        ),
        "a credential id belongs to one user"
    );
    let ids = |keys: Vec<authgate_store::passkeys::StoredPasskey>| {
        keys.into_iter()
            .map(|k| k.credential_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.passkeys_of("pk-ann").await.unwrap()),
        ["cred-1", "cred-2"]
    );
    assert!(store.passkeys_of("pk-bob").await.unwrap().is_empty());

    assert!(
        store
            .passkey_used("cred-1", "{\"counter\":7}", true, 99)
            .await
            .unwrap()
    );
    let used = store.passkey("cred-1").await.unwrap().unwrap();
    assert_eq!(
        (
            used.passkey.as_str(),
            used.backed_up,
            used.last_used_at,
            used.sub.as_str()
        ),
        ("{\"counter\":7}", true, Some(99), "pk-ann")
    );

    assert!(
        !store.delete_passkey("pk-bob", "cred-1").await.unwrap(),
        "another user's passkey is not theirs to delete"
    );
    assert!(store.delete_passkey("pk-ann", "cred-1").await.unwrap());
    assert!(store.passkey("cred-1").await.unwrap().is_none());
    assert!(
        !store
            .passkey_used("cred-1", "{}", false, 100)
            .await
            .unwrap()
    );

    store.delete_embedded_user("pk-ann").await.unwrap();
    assert!(store.passkey("cred-2").await.unwrap().is_none());
}

/// Is the refresh family live (the session check's answer, stamp aside)?
async fn is_live(store: &Store, family: &str, sub: &str, now: i64) -> bool {
    store
        .family_session(family, sub, "embedded", now)
        .await
        .unwrap()
        .live
}

async fn codes_work_once_and_a_replay_names_the_family_to_revoke(store: Store) {
    use authgate_store::authorization::{AuthorizationCode, CodeRedemption};
    let code = AuthorizationCode {
        client_id: "agc_spa".into(),
        redirect_uri: "https://spa.example/cb".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        scope: "openid email".into(),
        nonce: Some("n-1".into()),
        sid: "sid-1".into(),
        provider: "embedded".into(),
        sub: "u1".into(),
        auth_time: 100,
        amr: "pwd".into(),
        expires_at: 1_060,
    };
    store
        .insert_authorization_code("h1", &code, 1_000)
        .await
        .unwrap();
    let stale = AuthorizationCode {
        expires_at: 1_010,
        ..code.clone()
    };
    store
        .insert_authorization_code("h2", &stale, 1_000)
        .await
        .unwrap();
    let redeem = |hash: &'static str, at: i64| {
        let store = store.clone();
        async move { store.redeem_authorization_code(hash, at).await.unwrap() }
    };
    assert_eq!(
        redeem("h1", 1_020).await,
        CodeRedemption::Redeemed(Box::new(code))
    );
    assert_eq!(
        redeem("h1", 1_021).await,
        CodeRedemption::Replayed { family_id: None }
    );
    store.set_code_family("h1", "fam-1").await.unwrap();
    assert_eq!(
        redeem("h1", 1_022).await,
        CodeRedemption::Replayed {
            family_id: Some("fam-1".into())
        }
    );
    assert_eq!(
        redeem("h2", 1_020).await,
        CodeRedemption::Unknown,
        "expired"
    );
    assert_eq!(redeem("nope", 1_020).await, CodeRedemption::Unknown);
}

async fn concurrent_redemptions_of_one_code_redeem_once(store: Store) {
    use authgate_store::authorization::{AuthorizationCode, CodeRedemption};
    let code = AuthorizationCode {
        client_id: "agc_spa".into(),
        redirect_uri: "https://spa.example/cb".into(),
        code_challenge: "c".into(),
        scope: "openid".into(),
        nonce: None,
        sid: "sid-1".into(),
        provider: "embedded".into(),
        sub: "u1".into(),
        auth_time: 100,
        amr: "pwd".into(),
        expires_at: 10_000,
    };
    store
        .insert_authorization_code("race", &code, 1_000)
        .await
        .unwrap();
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.redeem_authorization_code("race", 1_001 + i).await })
        })
        .collect();
    let mut redeemed = 0;
    for attempt in attempts {
        if let CodeRedemption::Redeemed(_) = attempt.await.unwrap().unwrap() {
            redeemed += 1;
        }
    }
    assert_eq!(redeemed, 1);
}

async fn browser_sessions_live_until_ended_or_expired(store: Store) {
    use authgate_store::authorization::BrowserSession;
    let session = BrowserSession {
        sid: "sid-1".into(),
        provider: "embedded".into(),
        sub: "u1".into(),
        auth_time: 1,
        amr: "pwd otp".into(),
        expires_at: 5_000,
    };
    store
        .create_browser_session("c1", &session, 1_000)
        .await
        .unwrap();
    assert_eq!(
        store.browser_session("c1", 1_001).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        store.browser_session("c1", 5_000).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.browser_session("c2", 1_001).await.unwrap(), None);
    assert!(store.end_browser_session("sid-1", 2_000).await.unwrap());
    assert!(!store.end_browser_session("sid-1", 2_001).await.unwrap());
    assert_eq!(
        store.browser_session("c1", 2_002).await.unwrap(),
        None,
        "ended"
    );
}
