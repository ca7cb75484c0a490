//! The Cedar side: schema, validation, evaluation (feature `cedar`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, AuthorizationError, Authorizer, Context, Decision, Entities, Entity,
    EntityId, EntityTypeName, EntityUid, EvaluationError, Policy, PolicyId, PolicySet, Request,
    RestrictedExpression, Schema, ValidationError, ValidationMode, Validator,
};
use miette::Diagnostic;
use serde_json::{Value, json};

use crate::{PolicyError, PolicyOutcome, PolicyRequest, Principal, StoredPolicy};

/// Action declared in every validation schema so that a policy whose `action`
/// is unconstrained is still type-checked. `/` cannot occur in a permission
/// string, so it never collides with a real action.
const CATCH_ALL_ACTION: &str = "authgate/any-action";

/// Added to a validation error about a missing attribute of a principal.
const PRINCIPAL_HINT: &str = ". Note: a policy is checked for both principal types, `User` and \
    `Client`; before using an attribute of one of them, test the type: `principal is User` in \
    the scope, or `principal is User && …` in the condition";

const USER: &str = "User";
const CLIENT: &str = "Client";
const ACTION: &str = "Action";
const RESOURCE: &str = "Resource";

fn type_name(name: &str) -> EntityTypeName {
    // Only called with the constants above, valid Cedar identifiers.
    EntityTypeName::from_str(name).expect("valid entity type name")
}

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name(ty), EntityId::new(id))
}

/// authgate's schema for one policy text: the fixed entity types plus one
/// action per action id in `actions`.
fn schema_json(actions: &BTreeSet<String>) -> Value {
    let string = json!({ "type": "String" });
    let applies_to = json!({
        "principalTypes": [USER, CLIENT],
        "resourceTypes": [RESOURCE],
        "context": {
            "type": "Record",
            "attributes": {
                "tenantId": string,
                "ip": string,
                "now": { "type": "Long" },
                "hourUtc": { "type": "Long" },
            },
        },
    });
    let actions: serde_json::Map<String, Value> = actions
        .iter()
        .map(|id| (id.clone(), json!({ "appliesTo": applies_to })))
        .collect();
    json!({
        "": {
            "entityTypes": {
                USER: { "shape": { "type": "Record", "attributes": {
                    "email": string,
                    "platformRole": string,
                    "tenantRole": string,
                    "mfa": { "type": "Boolean" },
                } } },
                CLIENT: { "shape": { "type": "Record", "attributes": {
                    "scopes": { "type": "Set", "element": string },
                } } },
                RESOURCE: { "shape": { "type": "Record", "attributes": {
                    "tenant": string,
                } } },
            },
            "actions": actions,
        }
    })
}

/// Every `Action::"…"` id a policy mentions, in its scope or its conditions.
fn mentioned_actions(policy: &Policy, into: &mut BTreeSet<String>) {
    let action_type = type_name(ACTION);
    let mut add = |euid: &EntityUid| {
        if euid.type_name() == &action_type {
            into.insert(euid.id().unescaped().to_owned());
        }
    };
    match policy.action_constraint() {
        ActionConstraint::Any => {}
        ActionConstraint::Eq(euid) => add(&euid),
        ActionConstraint::In(euids) => euids.iter().for_each(&mut add),
    }
    for euid in policy.entity_literals() {
        add(&euid);
    }
}

/// 1-based line and column of a byte offset in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before, |nl| &before[nl + 1..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// "line L, column C: message (help)" for one Cedar diagnostic.
fn describe(text: &str, diagnostic: &dyn Diagnostic, message: String) -> String {
    let position = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| line_column(text, label.offset()));
    let mut out = match position {
        Some((line, column)) => format!("line {line}, column {column}: {message}"),
        None => message,
    };
    if let Some(help) = diagnostic.help() {
        out.push_str(&format!(" ({help})"));
    }
    out
}

/// Parse a text into its static policies, ids `"<prefix><n>"`, n from 1.
fn parse(text: &str, prefix: &str) -> Result<Vec<Policy>, PolicyError> {
    let set = PolicySet::from_str(text).map_err(|errors| {
        let messages: Vec<String> = errors
            .iter()
            .map(|error| describe(text, error, error.to_string()))
            .collect();
        PolicyError(format!("policy does not parse: {}", messages.join("; ")))
    })?;
    if set.templates().next().is_some() {
        return Err(PolicyError(
            "templates (policies with ?principal or ?resource) are not supported".to_owned(),
        ));
    }
    // `PolicySet::from_str` names its policies "policy0", "policy1", … in
    // source order; keep that order so the numbering follows the text.
    let mut policies: Vec<&Policy> = set.policies().collect();
    policies.sort_by_key(|p| {
        AsRef::<str>::as_ref(p.id())
            .strip_prefix("policy")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(usize::MAX)
    });
    Ok(policies
        .into_iter()
        .enumerate()
        .map(|(n, p)| p.new_id(PolicyId::new(format!("{prefix}{}", n + 1))))
        .collect())
}

pub(crate) fn validate(text: &str) -> Result<(), PolicyError> {
    let policies = parse(text, "policy ")?;
    if policies.is_empty() {
        return Err(PolicyError("policy text holds no policy".to_owned()));
    }
    let mut actions = BTreeSet::from([CATCH_ALL_ACTION.to_owned()]);
    for policy in &policies {
        mentioned_actions(policy, &mut actions);
    }
    let schema = Schema::from_json_value(schema_json(&actions))
        .map_err(|e| PolicyError(format!("internal schema error: {e}")))?;
    let mut set = PolicySet::new();
    for policy in policies {
        set.add(policy)
            .map_err(|e| PolicyError(format!("policy set error: {e}")))?;
    }
    let result = Validator::new(schema).validate(&set, ValidationMode::Strict);
    if result.validation_passed() {
        return Ok(());
    }
    let mut principal_attribute = false;
    let messages: Vec<String> = result
        .validation_errors()
        .map(|error| {
            let message = error.to_string();
            if matches!(error, ValidationError::UnsafeAttributeAccess(_))
                && (message.contains("on entity type `User`")
                    || message.contains("on entity type `Client`"))
            {
                principal_attribute = true;
            }
            describe(text, error, message)
        })
        .collect();
    let mut message = format!("policy does not validate: {}", messages.join("; "));
    if principal_attribute {
        message.push_str(PRINCIPAL_HINT);
    }
    Err(PolicyError(message))
}

fn string(value: Option<&str>) -> RestrictedExpression {
    RestrictedExpression::new_string(value.unwrap_or_default().to_owned())
}

/// Principal and resource entities, and the request, for one decision.
fn request_parts(
    request: &PolicyRequest<'_>,
) -> Result<(Request, Entities), Box<dyn std::error::Error>> {
    let (principal_uid, attrs) = match request.principal {
        Principal::User {
            id,
            email,
            platform_role,
            tenant_role,
            mfa,
        } => (
            uid(USER, id),
            HashMap::from([
                ("email".to_owned(), string(email)),
                ("platformRole".to_owned(), string(platform_role)),
                ("tenantRole".to_owned(), string(tenant_role)),
                ("mfa".to_owned(), RestrictedExpression::new_bool(mfa)),
            ]),
        ),
        Principal::Client { id, scopes } => (
            uid(CLIENT, id),
            HashMap::from([(
                "scopes".to_owned(),
                RestrictedExpression::new_set(
                    scopes
                        .iter()
                        .map(|s| RestrictedExpression::new_string(s.clone())),
                ),
            )]),
        ),
    };
    let principal = Entity::new(principal_uid.clone(), attrs, HashSet::new())?;
    let resource_uid = uid(RESOURCE, request.resource.unwrap_or("*"));
    let resource = Entity::new(
        resource_uid.clone(),
        HashMap::from([("tenant".to_owned(), string(request.tenant_id))]),
        HashSet::new(),
    )?;
    // The principal and the resource are of different types, so never duplicates.
    let entities = Entities::from_entities([principal, resource], None)?;
    let context = Context::from_pairs([
        ("tenantId".to_owned(), string(request.tenant_id)),
        ("ip".to_owned(), string(request.ip)),
        (
            "now".to_owned(),
            RestrictedExpression::new_long(request.now),
        ),
        (
            "hourUtc".to_owned(),
            RestrictedExpression::new_long(request.now.rem_euclid(86_400) / 3_600),
        ),
    ])?;
    let cedar_request = Request::new(
        principal_uid,
        uid(ACTION, request.action),
        resource_uid,
        context,
        None,
    )?;
    Ok((cedar_request, entities))
}

/// A name for the kind of an evaluation error, free of request data.
fn evaluation_error_kind(error: &EvaluationError) -> &'static str {
    match error {
        EvaluationError::EntityDoesNotExist(_) => "entity does not exist",
        EvaluationError::EntityAttrDoesNotExist(_) => "entity attribute does not exist",
        EvaluationError::RecordAttrDoesNotExist(_) => "record attribute does not exist",
        EvaluationError::FailedExtensionFunctionLookup(_) => "unknown extension function",
        EvaluationError::TypeError(_) => "type error",
        EvaluationError::WrongNumArguments(_) => "wrong number of arguments",
        EvaluationError::IntegerOverflow(_) => "integer overflow",
        EvaluationError::FailedExtensionFunctionExecution(_) => "extension function failed",
        _ => "other",
    }
}

pub(crate) fn evaluate(policies: &[StoredPolicy], request: &PolicyRequest<'_>) -> PolicyOutcome {
    if policies.is_empty() {
        return PolicyOutcome::NoOpinion;
    }
    // Cedar policy id → index of its stored policy.
    let mut owner: HashMap<PolicyId, usize> = HashMap::new();
    let mut set = PolicySet::new();
    for (index, stored) in policies.iter().enumerate() {
        let parsed = match parse(&stored.text, &format!("{index}#")) {
            Ok(parsed) => parsed,
            Err(error) => {
                tracing::warn!(policy_id = %stored.id, %error, "stored Cedar policy skipped: it does not parse");
                continue;
            }
        };
        for policy in parsed {
            let id = policy.id().clone();
            match set.add(policy) {
                Ok(()) => {
                    owner.insert(id, index);
                }
                Err(error) => {
                    tracing::warn!(policy_id = %stored.id, %error, "stored Cedar policy skipped");
                }
            }
        }
    }
    if set.is_empty() {
        return PolicyOutcome::NoOpinion;
    }
    let (cedar_request, entities) = match request_parts(request) {
        Ok(parts) => parts,
        Err(error) => {
            // Cannot happen with the values built above; never log the request.
            tracing::warn!(%error, "Cedar request could not be built; policies not applied");
            return PolicyOutcome::NoOpinion;
        }
    };
    let response = Authorizer::new().is_authorized(&cedar_request, &set, &entities);
    let diagnostics = response.diagnostics();
    for AuthorizationError::PolicyEvaluationError(error) in diagnostics.errors() {
        // Cedar's message may quote request values (ids, the address, …):
        // log the kind of error and its place in the stored text instead.
        let inner = error.inner();
        let kind = evaluation_error_kind(inner);
        match owner.get(error.policy_id()) {
            Some(&i) => {
                let stored = &policies[i];
                let (line, column) = inner
                    .labels()
                    .and_then(|mut labels| labels.next())
                    .map_or((0, 0), |label| line_column(&stored.text, label.offset()));
                tracing::warn!(
                    policy_id = %stored.id, kind, line, column,
                    "Cedar policy skipped: evaluation error"
                );
            }
            None => tracing::warn!(kind, "Cedar policy skipped: evaluation error"),
        }
    }
    let indices: BTreeSet<usize> = diagnostics
        .reason()
        .filter_map(|id| owner.get(id).copied())
        .collect();
    // In input order, each stored id once (even if the caller repeats an id).
    let mut policy_ids: Vec<String> = Vec::with_capacity(indices.len());
    for id in indices.into_iter().map(|i| &policies[i].id) {
        if !policy_ids.contains(id) {
            policy_ids.push(id.clone());
        }
    }
    match response.decision() {
        Decision::Allow => PolicyOutcome::Permit { policy_ids },
        Decision::Deny if policy_ids.is_empty() => PolicyOutcome::NoOpinion,
        Decision::Deny => PolicyOutcome::Forbid { policy_ids },
    }
}
