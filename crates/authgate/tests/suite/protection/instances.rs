//! Two real `authgate` processes on one PostgreSQL and one Redis (a
//! `redis-server` this test starts on a free port, so it can kill it):
//! one lockout and one rate limit across both, group isolation, and Redis
//! killed and restarted mid-run — no 5xx, one warning, `authgate_redis_up`
//! and `/health/ready` telling the truth, and the shared counts back once
//! Redis is; eight concurrent refreshes of one token spread over both
//! instances answered with one child; and a context remembered by one
//! instance current after every change made through another.

use crate::cli::{Server, sigterm, start_server, wait_exit};
use crate::common::{Database, Engine, TestApp, random_encryption_key, temp_dir};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `redis-server` of this test, keeping nothing on disk.
struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = RedisServer { port, child: None };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package) is required for this test");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not listen on {}", self.port);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A server process that is stopped even when the test panics.
struct Instance(Option<Server>);

impl Instance {
    fn base(&self) -> &str {
        &self.0.as_ref().unwrap().base
    }

    fn log_lines_with(&self, needle: &str) -> usize {
        let server = self.0.as_ref().unwrap();
        let lines = server.stdout.lock().unwrap();
        lines.iter().filter(|l| l.contains(needle)).count()
    }

    fn stop(mut self) {
        let mut server = self.0.take().unwrap();
        sigterm(&server.child);
        assert!(wait_exit(&mut server.child).success());
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(server) = &mut self.0 {
            let _ = server.child.kill();
        }
    }
}

/// One `authgate serve` on the shared database and Redis, under the
/// installation's one encryption key.
fn instance(database_url: &str, redis_url: &str, encryption_key: &str) -> Instance {
    let dir = temp_dir("instance");
    Instance(Some(start_server(
        &dir,
        &[
            ("AUTHGATE_DATABASE_URL", database_url),
            ("AUTHGATE_REDIS_URL", redis_url),
            ("AUTHGATE_ENCRYPTION_KEY", encryption_key),
            ("AUTHGATE_RATE_LIMITS", "sign-in=8/60s,token=100/60s"),
            ("AUTHGATE_LOCKOUT_THRESHOLD", "3"),
            ("AUTHGATE_LOCKOUT_MAX_SECONDS", "60"),
        ],
    )))
}

async fn sign_in(client: &reqwest::Client, on: &Instance, email: &str) -> (u16, Value) {
    let response = client
        .post(format!("{}/v1/auth/sign-in", on.base()))
        .json(&json!({"email": email, "password": "Wrong-Horse-42!"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(client: &reqwest::Client, on: &Instance, path: &str) -> (u16, String) {
    let response = client
        .get(format!("{}{path}", on.base()))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// `/health/ready` and `authgate_redis_up` of `on`.
async fn redis_seen_by(client: &reqwest::Client, on: &Instance) -> (Value, bool) {
    let (status, ready) = get(client, on, "/health/ready").await;
    assert_eq!(status, 200, "ready whether or not Redis is: {ready}");
    let (_, metrics) = get(client, on, "/metrics").await;
    let up = metrics
        .lines()
        .find(|l| l.starts_with("authgate_redis_up"))
        .unwrap_or_else(|| panic!("no authgate_redis_up in {metrics}"))
        .ends_with(" 1");
    (serde_json::from_str(&ready).unwrap(), up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_limits_and_lockouts_through_redis_and_survive_its_outage() {
    let db = Database::create(Engine::Postgres).await;
    let mut redis = RedisServer::start();
    let key = random_encryption_key();
    let a = instance(&db.url, &redis.url(), &key);
    let b = instance(&db.url, &redis.url(), &key);
    let client = reqwest::Client::new();

    // One lockout: three failures spread over both instances lock the
    // address on both.
    for (i, on) in [&a, &b, &a].into_iter().enumerate() {
        assert_eq!(
            sign_in(&client, on, "shared@example.com").await.0,
            401,
            "try {i}"
        );
    }
    for on in [&b, &a] {
        let (status, body) = sign_in(&client, on, "shared@example.com").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (429, Some("too_many_failed_attempts"))
        );
    }
    // One budget: 5 sign-in requests so far, 3 more fit, then both refuse.
    for on in [&b, &a, &b] {
        assert_eq!(sign_in(&client, on, "other@example.com").await.0, 401);
    }
    for on in [&a, &b] {
        let (status, body) = sign_in(&client, on, "third@example.com").await;
        assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    }
    // Another group has its own budget.
    let refresh = client
        .post(format!("{}/v1/auth/token/refresh", a.base()))
        .json(&json!({"refreshToken": "not-a-token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status().as_u16(), 401);
    let (ready, up) = redis_seen_by(&client, &a).await;
    assert_eq!(
        (ready["status"].as_str(), ready["redis"].as_str(), up),
        (Some("ok"), Some("up"), true)
    );

    // Redis goes away: no 5xx, each instance counts alone (a fresh local
    // budget), one warning, the gauge and readiness say so.
    redis.kill();
    for _ in 0..3 {
        let (status, _) = sign_in(&client, &a, "during@example.com").await;
        assert_eq!(status, 401, "answered from local counters, never a 5xx");
    }
    let (status, body) = sign_in(&client, &a, "during@example.com").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_failed_attempts")),
        "the lockout still holds on this instance"
    );
    let (ready, up) = redis_seen_by(&client, &a).await;
    assert_eq!(
        (ready["status"].as_str(), ready["redis"].as_str(), up),
        (Some("degraded"), Some("down"), false)
    );
    assert_eq!(a.log_lines_with("Redis is unreachable"), 1, "warned once");

    // Redis is back (empty): both instances return to it by themselves.
    redis.restart();
    for on in [&a, &b] {
        let mut back = false;
        for _ in 0..50 {
            let _ = sign_in(&client, on, "probe@example.com").await;
            if redis_seen_by(&client, on).await.1 {
                back = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(back, "{} went back to Redis", on.base());
    }
    for (i, on) in [&b, &a, &b].into_iter().enumerate() {
        assert_eq!(
            sign_in(&client, on, "after@example.com").await.0,
            401,
            "try {i}"
        );
    }
    let (status, _) = sign_in(&client, &a, "after@example.com").await;
    assert_eq!(status, 429, "shared again");
    assert_eq!(a.log_lines_with("Redis is reachable again"), 1);

    a.stop();
    b.stop();
    db.cleanup().await;
}

/// Two tabs on two instances refresh the same token at once: with one
/// PostgreSQL between them they get one child, and it works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_on_two_instances_make_one_child() {
    let app = TestApp::start(Engine::Postgres).await;
    app.confirmed_user("tabs@example.com").await;
    let refresh = app
        .session("tabs@example.com")
        .await
        .refresh_token
        .expect("a refresh token");
    let redis = RedisServer::start();
    let key = app.settings.encryption_key.clone().expect("the test key");
    let instances = [
        instance(&app.db.url, &redis.url(), &key),
        instance(&app.db.url, &redis.url(), &key),
    ];
    let client = reqwest::Client::new();
    let mut tabs = tokio::task::JoinSet::new();
    for i in 0..8 {
        let request = client
            .post(format!("{}/v1/auth/token/refresh", instances[i % 2].base()))
            .json(&json!({ "refreshToken": refresh }));
        tabs.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body)
        });
    }
    let mut children = std::collections::BTreeSet::new();
    while let Some(answer) = tabs.join_next().await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
        children.insert(body["refreshToken"].as_str().unwrap().to_string());
    }
    assert_eq!(children.len(), 1, "one child for every tab: {children:?}");
    let child = children.into_iter().next().unwrap();
    assert_ne!(child, refresh);
    let next = app
        .api()
        .refresh(&child)
        .await
        .expect("the child refreshes");
    assert!(next.refresh_token.is_some_and(|t| t != child));
    drop(instances);
    app.finish().await;
}

/// The context `token`'s user gets from `on`: (role, grants) in each tenant.
async fn tenants_seen_by(
    client: &reqwest::Client,
    on: &Instance,
    token: &str,
) -> Vec<(String, Value)> {
    let response = client
        .get(format!("{}/v1/auth/subject", on.base()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let context: Value = response.json().await.unwrap();
    context["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["role"].as_str().unwrap().to_string(), t["grants"].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_remembered_by_one_instance_follows_changes_made_through_another() {
    let app = TestApp::start(Engine::Postgres).await;
    let (owner, _) = app.user("owner@example.com").await;
    let (_, member_id) = app.user("member@example.com").await;
    let tenant = app.create_tenant(&owner, "Shared").await;
    assert_eq!(
        app.add_member(&owner, &tenant, "member@example.com", "member")
            .await
            .status(),
        201
    );
    let key = app.settings.encryption_key.clone().expect("the test key");
    let other = instance(&app.db.url, "redis://127.0.0.1:6379", &key);
    let client = reqwest::Client::new();
    // The member's session is the other instance's (its issuer).
    let session: Value = client
        .post(format!("{}/v1/auth/sign-in", other.base()))
        .json(&json!({"email": "member@example.com", "password": crate::common::PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let member = session["accessToken"]
        .as_str()
        .expect("signed in")
        .to_string();
    let seen = tenants_seen_by(&client, &other, &member).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "member");
    assert_eq!(
        tenants_seen_by(&client, &other, &member).await,
        seen,
        "asked again: the same context (now from memory)"
    );

    let members = format!("/v1/tenants/{tenant}/members/{member_id}");
    let changed = app
        .call(
            reqwest::Method::PATCH,
            &members,
            Some(&owner),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(changed.status(), 204);
    let seen = tenants_seen_by(&client, &other, &member).await;
    assert_eq!(seen[0].0, "viewer", "the role change, at the next request");

    let admin = app.admin_token("admin@example.com").await;
    let grants = json!({"scope": "tenant", "description": "reads more", "grants": ["data:read", "reports:read"]});
    let updated = app
        .call(
            reqwest::Method::PUT,
            "/v1/admin/roles/viewer",
            Some(&admin),
            Some(grants),
        )
        .await;
    assert_eq!(updated.status(), 200);
    let seen = tenants_seen_by(&client, &other, &member).await;
    assert_eq!(
        seen[0].1,
        json!(["data:read", "reports:read"]),
        "the role's new grants"
    );

    let removed = app
        .call(reqwest::Method::DELETE, &members, Some(&owner), None)
        .await;
    assert_eq!(removed.status(), 204);
    assert_eq!(
        tenants_seen_by(&client, &other, &member).await,
        [],
        "the membership removed"
    );

    let member_again = app.sign_in("member@example.com").await;
    let member_again = member_again["accessToken"].as_str().unwrap();
    let signed_out = app.post_bearer("/v1/auth/sign-out", member_again).await;
    assert_eq!(
        signed_out.status(),
        204,
        "signed out everywhere, through this instance"
    );
    let after = client
        .get(format!("{}/v1/auth/subject", other.base()))
        .bearer_auth(&member)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        401,
        "signed out on one instance: refused by the other"
    );
    drop(other);
    app.finish().await;
}
