//! Tests of the Cedar side (feature `cedar`).

use super::*;

const VIEWER_PERMIT: &str = r#"permit(principal is User, action == Action::"reports:read", resource) when { principal.tenantRole == "viewer" && context.hourUtc >= 9 };"#;
const MFA_FORBID: &str =
    "forbid(principal, action, resource) unless { principal is User && principal.mfa };";
const CLIENT_PERMIT: &str = r#"permit(principal is Client, action == Action::"reports:read", resource) when { principal.scopes.contains("reports") };"#;

/// 2023-11-14T22:13:20Z: hourUtc 22.
const NOW: i64 = 1_700_000_000;

fn stored(id: &str, text: &str) -> StoredPolicy {
    StoredPolicy {
        id: id.to_owned(),
        text: text.to_owned(),
    }
}

fn user<'a>(tenant_role: Option<&'a str>, mfa: bool) -> Principal<'a> {
    Principal::User {
        id: "u-1",
        email: Some("ann@example.com"),
        platform_role: None,
        tenant_role,
        mfa,
    }
}

fn request<'a>(principal: Principal<'a>, action: &'a str, now: i64) -> PolicyRequest<'a> {
    PolicyRequest {
        principal,
        action,
        resource: Some("report/7"),
        tenant_id: Some("t-1"),
        ip: Some("203.0.113.9"),
        now,
    }
}

fn permit(ids: &[&str]) -> PolicyOutcome {
    PolicyOutcome::Permit {
        policy_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn forbid(ids: &[&str]) -> PolicyOutcome {
    PolicyOutcome::Forbid {
        policy_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn rejected(text: &str) -> String {
    match validate(text) {
        Ok(()) => panic!("validate accepted {text:?}"),
        Err(PolicyError(message)) => message,
    }
}

#[test]
fn enabled_with_the_feature() {
    assert!(enabled());
}

#[test]
fn principal_attributes_need_a_type_test() {
    // The example as first written: `tenantRole` is a `User` attribute, and the
    // policy is checked for a `Client` principal too.
    let message = rejected(
        r#"permit(principal, action == Action::"reports:read", resource) when { principal.tenantRole == "viewer" && context.hourUtc >= 9 };"#,
    );
    assert!(
        message.contains("attribute `tenantRole` on entity type `Client` not found"),
        "{message}"
    );
    assert!(message.contains("`principal is User`"), "{message}");
    // Either place for the test works.
    assert_eq!(
        validate(
            r#"permit(principal, action == Action::"reports:read", resource) when { principal is User && principal.tenantRole == "viewer" && context.hourUtc >= 9 };"#
        ),
        Ok(())
    );
    // A plain type error gets no such note.
    let message = rejected(r#"permit(principal, action, resource) when { context.now > "noon" };"#);
    assert!(!message.contains("principal is User"), "{message}");
}

#[test]
fn validate_accepts_the_examples() {
    assert_eq!(validate(VIEWER_PERMIT), Ok(()));
    // Strict mode type-checks this for both principal types: for a `Client`
    // `principal is User` is known false and `&&` stops there.
    assert_eq!(validate(MFA_FORBID), Ok(()));
    assert_eq!(
        validate(
            "forbid(principal, action, resource) unless { principal is Client || principal.mfa };"
        ),
        Ok(())
    );
    assert_eq!(validate(CLIENT_PERMIT), Ok(()));
    // The client one without `is Client` in the scope, `is` in the condition.
    assert_eq!(
        validate(
            r#"permit(principal, action, resource) when { principal is Client && principal.scopes.contains("reports") };"#
        ),
        Ok(())
    );
}

#[test]
fn validate_accepts_the_crate_doc_examples() {
    let doc = [
        "permit(principal is User, action == Action::\"reports:read\", resource)\n\
         when { principal.tenantRole == \"viewer\" && context.hourUtc >= 9 && context.hourUtc < 17 };",
        "forbid(principal, action, resource)\nunless { principal is Client || principal.mfa };",
        "permit(\n  principal is Client,\n  action in [Action::\"reports:read\", Action::\"reports:export\"],\n  \
         resource == Resource::\"report/monthly\"\n) when { principal.scopes.contains(\"reports\") };",
    ];
    for text in doc {
        assert_eq!(validate(text), Ok(()), "{text}");
    }
    // All three in one text, with every attribute of the model.
    let all = format!(
        "{}\n{}\n{}\n{}",
        doc.join("\n"),
        r#"permit(principal, action, resource) when { principal is User && principal.email like "*@example.com" && principal.platformRole == "admin" };"#,
        r#"forbid(principal, action, resource) when { resource.tenant != context.tenantId || context.ip == "" || context.now < 0 };"#,
        r#"permit(principal, action, resource == Resource::"*") when { action == Action::"devices:read" };"#,
    );
    assert_eq!(validate(&all), Ok(()));
}

#[test]
fn validate_rejects_syntax_errors_with_a_position() {
    let message = rejected("permit(principal, action resource);");
    assert!(message.contains("does not parse"), "{message}");
    assert!(message.contains("line 1, column 26"), "{message}");
    assert!(message.contains("unexpected token `resource`"), "{message}");

    let message = rejected(
        "permit(principal, action, resource);\nforbid(principal, action, resource) when { ;",
    );
    assert!(message.contains("line 2"), "{message}");
}

#[test]
fn validate_rejects_unknown_attributes() {
    let message = rejected(
        r#"permit(principal, action == Action::"devices:read", resource) when { principal.platfromRole == "admin" };"#,
    );
    assert!(message.contains("platfromRole"), "{message}");
    assert!(
        message.contains("did you mean `platformRole`?"),
        "{message}"
    );
    assert!(message.contains("line 1, column 70"), "{message}");

    // With `action` unconstrained too (the catch-all action keeps it checked),
    // and in the second policy of a text.
    let message = rejected(
        "permit(principal, action, resource);\nforbid(principal, action, resource) when { context.tenant == \"\" };",
    );
    assert!(message.contains("tenant"), "{message}");
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("policy 2"), "{message}");

    // `mfa` exists on User only.
    let message = rejected("permit(principal, action, resource) when { principal.mfa };");
    assert!(message.contains("`mfa`"), "{message}");
}

#[test]
fn validate_rejects_type_errors() {
    let message = rejected(r#"permit(principal, action, resource) when { context.now > "noon" };"#);
    assert!(
        message.contains("expected Long but saw String"),
        "{message}"
    );
    let message =
        rejected(r#"permit(principal, action, resource) when { context.now == "noon" };"#);
    assert!(message.contains("Long and String"), "{message}");
    let message =
        rejected("permit(principal is User, action, resource) when { principal.mfa == 1 };");
    assert!(message.contains("Bool"), "{message}");
}

#[test]
fn validate_rejects_templates() {
    let message = rejected("permit(principal == ?principal, action, resource);");
    assert!(message.contains("templates"), "{message}");
    let message = rejected(
        "permit(principal, action, resource);\npermit(principal, action, resource in ?resource);",
    );
    assert!(message.contains("templates"), "{message}");
}

#[test]
fn validate_rejects_empty_text() {
    for text in ["", "   \n", "// just a comment\n"] {
        assert_eq!(rejected(text), "policy text holds no policy");
    }
}

#[test]
fn validate_rejects_unknown_entity_types() {
    let message = rejected(r#"permit(principal == Admin::"root", action, resource);"#);
    assert!(message.contains("Admin"), "{message}");
}

#[test]
fn permit_applies_by_condition() {
    let policies = [stored("p-viewer", VIEWER_PERMIT)];
    assert_eq!(
        evaluate(
            &policies,
            &request(user(Some("viewer"), false), "reports:read", NOW)
        ),
        permit(&["p-viewer"])
    );
    // Wrong role, wrong action, too early: no opinion.
    assert_eq!(
        evaluate(
            &policies,
            &request(user(Some("editor"), false), "reports:read", NOW)
        ),
        PolicyOutcome::NoOpinion
    );
    assert_eq!(
        evaluate(&policies, &request(user(None, false), "reports:read", NOW)),
        PolicyOutcome::NoOpinion
    );
    assert_eq!(
        evaluate(
            &policies,
            &request(user(Some("viewer"), false), "reports:write", NOW)
        ),
        PolicyOutcome::NoOpinion
    );
    let four_am = NOW - 18 * 3600;
    assert_eq!(
        evaluate(
            &policies,
            &request(user(Some("viewer"), false), "reports:read", four_am)
        ),
        PolicyOutcome::NoOpinion
    );
}

#[test]
fn client_permit_by_scope() {
    let policies = [stored("p-client", CLIENT_PERMIT)];
    let scopes = vec!["devices".to_owned(), "reports".to_owned()];
    let client = Principal::Client {
        id: "c-1",
        scopes: &scopes,
    };
    assert_eq!(
        evaluate(&policies, &request(client, "reports:read", NOW)),
        permit(&["p-client"])
    );
    let few = vec!["devices".to_owned()];
    let client = Principal::Client {
        id: "c-1",
        scopes: &few,
    };
    assert_eq!(
        evaluate(&policies, &request(client, "reports:read", NOW)),
        PolicyOutcome::NoOpinion
    );
    // A user is not a client.
    assert_eq!(
        evaluate(
            &policies,
            &request(user(Some("viewer"), true), "reports:read", NOW)
        ),
        PolicyOutcome::NoOpinion
    );
}

#[test]
fn forbid_wins_over_permit() {
    let policies = [
        stored("p-viewer", VIEWER_PERMIT),
        stored("f-mfa", MFA_FORBID),
    ];
    assert_eq!(
        evaluate(
            &policies,
            &request(user(Some("viewer"), false), "reports:read", NOW)
        ),
        forbid(&["f-mfa"])
    );
    assert_eq!(
        evaluate(
            &policies,
            &request(user(Some("viewer"), true), "reports:read", NOW)
        ),
        permit(&["p-viewer"])
    );
    // The forbid alone, on any action.
    assert_eq!(
        evaluate(
            &policies,
            &request(user(None, false), "devices:delete", NOW)
        ),
        forbid(&["f-mfa"])
    );
}

#[test]
fn no_opinion_when_nothing_applies() {
    assert_eq!(
        evaluate(&[], &request(user(None, true), "devices:read", NOW)),
        PolicyOutcome::NoOpinion
    );
    let policies = [
        stored("p-viewer", VIEWER_PERMIT),
        stored("f-mfa", MFA_FORBID),
        stored("p-client", CLIENT_PERMIT),
    ];
    assert_eq!(
        evaluate(
            &policies,
            &request(user(Some("admin"), true), "devices:read", NOW)
        ),
        PolicyOutcome::NoOpinion
    );
}

#[test]
fn hour_utc_is_derived_from_now() {
    let policies = [stored(
        "p-hour",
        "permit(principal, action, resource) when { context.hourUtc == 22 && context.now == 1700000000 };",
    )];
    assert_eq!(
        evaluate(&policies, &request(user(None, true), "a", NOW)),
        permit(&["p-hour"])
    );
    assert_eq!(
        evaluate(&policies, &request(user(None, true), "a", NOW + 3600)),
        PolicyOutcome::NoOpinion
    );
    let policies = [stored(
        "p-hour",
        "permit(principal, action, resource) when { context.hourUtc == 23 };",
    )];
    // 1969-12-31T23:59:59Z.
    assert_eq!(
        evaluate(&policies, &request(user(None, true), "a", -1)),
        permit(&["p-hour"])
    );
    // 00:00 is 0, 23:59:59 is 23.
    assert_eq!(
        evaluate(&policies, &request(user(None, true), "a", 86_400 * 3 - 1)),
        permit(&["p-hour"])
    );
    assert_eq!(
        evaluate(&policies, &request(user(None, true), "a", 86_400 * 3)),
        PolicyOutcome::NoOpinion
    );
}

#[test]
fn stored_ids_are_reported_once_each_in_input_order() {
    let two_in_one = format!(
        "{VIEWER_PERMIT}\npermit(principal, action, resource) when {{ principal is User && principal.mfa }};"
    );
    let policies = [
        stored("zz-second-text", &two_in_one),
        stored(
            "aa-other",
            "permit(principal, action == Action::\"reports:read\", resource);",
        ),
        stored(
            "unrelated",
            "permit(principal, action == Action::\"x\", resource);",
        ),
    ];
    assert_eq!(
        evaluate(
            &policies,
            &request(user(Some("viewer"), true), "reports:read", NOW)
        ),
        permit(&["zz-second-text", "aa-other"])
    );
    // Two forbids from two texts.
    let policies = [
        stored("f-1", "forbid(principal, action, resource);"),
        stored("p-1", "permit(principal, action, resource);"),
        stored("f-2", "forbid(principal is User, action, resource);"),
    ];
    assert_eq!(
        evaluate(&policies, &request(user(None, true), "reports:read", NOW)),
        forbid(&["f-1", "f-2"])
    );
    // The same stored id twice: reported once (Cedar ids stay distinct inside).
    let policies = [
        stored("dup", "permit(principal, action, resource);"),
        stored("dup", "permit(principal, action, resource);"),
    ];
    assert_eq!(
        evaluate(&policies, &request(user(None, true), "x", NOW)),
        permit(&["dup"])
    );
}

#[test]
fn odd_ids_do_not_panic_and_match_exactly() {
    let action = "say \"hi\" \u{fc}ber \u{1f600} \\ ::";
    let resource = "doc/\"quoted\"/\u{65e5}\u{672c}";
    let policies = [stored(
        "p-odd",
        "permit(principal == User::\"u\\\"1\", action == Action::\"say \\\"hi\\\" \u{fc}ber \u{1f600} \\\\ ::\", resource == Resource::\"doc/\\\"quoted\\\"/\u{65e5}\u{672c}\");",
    )];
    assert_eq!(validate(&policies[0].text), Ok(()));
    let principal = Principal::User {
        id: "u\"1",
        email: Some("\"@\u{0}"),
        platform_role: Some("\n"),
        tenant_role: None,
        mfa: false,
    };
    let mut req = PolicyRequest {
        principal,
        action,
        resource: Some(resource),
        tenant_id: Some("t\"\u{e9}"),
        ip: Some("not an ip"),
        now: i64::MIN,
    };
    assert_eq!(evaluate(&policies, &req), permit(&["p-odd"]));
    req.now = i64::MAX;
    assert_eq!(evaluate(&policies, &req), permit(&["p-odd"]));
    for odd in [
        "",
        "*",
        "Action::\"x\"",
        "\"); forbid(principal, action, resource); //",
        "\u{0}",
    ] {
        req.action = odd;
        req.resource = Some(odd);
        assert_eq!(
            evaluate(&policies, &req),
            PolicyOutcome::NoOpinion,
            "{odd:?}"
        );
        req.resource = None;
        assert_eq!(
            evaluate(&policies, &req),
            PolicyOutcome::NoOpinion,
            "{odd:?}"
        );
    }
}

#[test]
fn missing_resource_is_the_star_resource() {
    let policies = [stored(
        "p-star",
        r#"permit(principal, action, resource == Resource::"*") when { resource.tenant == context.tenantId && resource.tenant == "t-1" };"#,
    )];
    let mut req = request(user(None, true), "devices:list", NOW);
    assert_eq!(evaluate(&policies, &req), PolicyOutcome::NoOpinion);
    req.resource = None;
    assert_eq!(evaluate(&policies, &req), permit(&["p-star"]));
    req.tenant_id = None;
    assert_eq!(evaluate(&policies, &req), PolicyOutcome::NoOpinion);
}

#[test]
fn user_attributes_reach_the_policy() {
    let policies = [stored(
        "p-attrs",
        r#"permit(principal, action, resource) when { principal is User && principal.email == "ann@example.com" && principal.platformRole == "" && context.ip == "203.0.113.9" && context.tenantId == "t-1" };"#,
    )];
    assert_eq!(validate(&policies[0].text), Ok(()));
    let mut req = request(user(None, false), "a", NOW);
    assert_eq!(evaluate(&policies, &req), permit(&["p-attrs"]));
    req.ip = None;
    assert_eq!(evaluate(&policies, &req), PolicyOutcome::NoOpinion);
}

#[test]
fn corrupt_and_erroring_policies_are_skipped() {
    let policies = [
        stored("corrupt", "permit(principal, action"),
        stored(
            "template",
            "permit(principal == ?principal, action, resource);",
        ),
        // Never validated: `mfa` does not exist on a Client, evaluation errors.
        stored(
            "erroring-forbid",
            "forbid(principal, action, resource) when { principal.mfa };",
        ),
        stored("ok", "permit(principal, action, resource);"),
    ];
    let scopes = Vec::new();
    let client = Principal::Client {
        id: "c",
        scopes: &scopes,
    };
    assert_eq!(
        evaluate(&policies, &request(client, "a", NOW)),
        permit(&["ok"])
    );
    assert_eq!(
        evaluate(&policies[..3], &request(client, "a", NOW)),
        PolicyOutcome::NoOpinion
    );
    // For a user the forbid evaluates and wins.
    assert_eq!(
        evaluate(&policies, &request(user(None, true), "a", NOW)),
        forbid(&["erroring-forbid"])
    );
}

/// Captures what the crate logs while `f` runs.
fn logs_of(f: impl FnOnce()) -> String {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn skipped_policies_are_logged_by_id_without_the_request() {
    let policies = [
        stored("corrupt-7", "permit(principal, action"),
        stored(
            "erroring-9",
            "forbid(principal, action, resource)\nwhen { principal.mfa };",
        ),
        stored("ok", "permit(principal, action, resource);"),
    ];
    let scopes = vec!["secret-scope".to_owned()];
    let client = Principal::Client {
        id: "client-secret-id",
        scopes: &scopes,
    };
    let mut outcome = None;
    let logs = logs_of(|| outcome = Some(evaluate(&policies, &request(client, "a:b", NOW))));
    assert_eq!(outcome, Some(permit(&["ok"])));
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 2, "{logs}");
    assert!(lines[0].contains("WARN"), "{logs}");
    assert!(lines[0].contains("policy_id=corrupt-7"), "{logs}");
    assert!(lines[1].contains("policy_id=erroring-9"), "{logs}");
    assert!(
        lines[1].contains("entity attribute does not exist"),
        "{logs}"
    );
    assert!(lines[1].contains("line=2"), "{logs}");
    for secret in [
        "client-secret-id",
        "secret-scope",
        "203.0.113.9",
        "report/7",
        "t-1",
    ] {
        assert!(!logs.contains(secret), "{secret} in {logs}");
    }
    // Nothing to say about a clean evaluation.
    let logs = logs_of(|| {
        let _ = evaluate(&policies[2..], &request(client, "a:b", NOW));
    });
    assert_eq!(logs, "");
}
