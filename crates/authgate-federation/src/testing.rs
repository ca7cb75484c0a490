//! Test support (feature `testing`): the upstream OpenID provider of
//! authgate's federation tests — npm `oidc-provider` from
//! `tests/federation/upstream` (installed by ./scripts/test), on loopback —
//! and a person signing in there the way a browser would (cookies kept, the
//! login and consent forms posted). A missing Node.js or upstream install
//! is a failure, never a skip.

use std::process::{Child, Command};
use std::time::Duration;

/// The upstream OP, killed when dropped.
pub struct UpstreamOp {
    child: Child,
    pub issuer: String,
}

impl Drop for UpstreamOp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Start the upstream OP, its clients redirecting to `redirect_uri`.
pub async fn start_upstream(redirect_uri: &str) -> UpstreamOp {
    let dir = std::env::var("AUTHGATE_TEST_UPSTREAM_DIR").unwrap_or_else(|_| {
        format!(
            "{}/../../tests/federation/upstream",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    assert!(
        std::path::Path::new(&dir)
            .join("node_modules/oidc-provider")
            .exists(),
        "the upstream OP is not installed in {dir}: run ./scripts/test (npm ci there)"
    );
    let port = free_port();
    let child = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("REDIRECT_URI", redirect_uri)
        .spawn()
        .expect("node runs the upstream OP (Node.js is needed)");
    let op = UpstreamOp {
        child,
        issuer: format!("http://127.0.0.1:{port}"),
    };
    let discovery = format!("{}/.well-known/openid-configuration", op.issuer);
    for _ in 0..100 {
        if reqwest::get(&discovery)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return op;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the upstream OP did not start");
}

impl UpstreamOp {
    /// Move the address of `sub` upstream (the same `sub` from now on
    /// signs in with `email`).
    pub async fn move_address(&self, sub: &str, email: &str) {
        let moved = reqwest::Client::new()
            .post(format!("{}/test/address", self.issuer))
            .query(&[("sub", sub), ("email", email)])
            .send()
            .await
            .expect("the upstream OP answers");
        assert_eq!(moved.status(), 204, "the address did not move");
    }
}

/// A person at the upstream: follows `url` (an authorization request)
/// through the login form (as `login`) and the consent form to the
/// redirect whose URL starts with `back_to`, and answers that URL.
pub async fn sign_in_upstream(url: &str, login: &str, back_to: &str) -> String {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let origin = url::Url::parse(url)
        .expect("an absolute URL")
        .origin()
        .ascii_serialization();
    let absolute = |location: &str| {
        if location.starts_with("http") {
            location.to_string()
        } else {
            format!("{origin}{location}")
        }
    };
    let mut next = url.to_string();
    for _ in 0..12 {
        if next.starts_with(back_to) {
            return next;
        }
        let answer = browser
            .get(&next)
            .send()
            .await
            .expect("the upstream answers");
        if let Some(location) = answer.headers().get("location") {
            next = absolute(location.to_str().expect("a text location"));
            continue;
        }
        let html = answer.text().await.expect("an upstream page");
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no form on the upstream page: {html}"));
        let form: Vec<(&str, &str)> = if html.contains("name=\"login\"") {
            vec![("prompt", "login"), ("login", login), ("password", "any")]
        } else {
            vec![("prompt", "consent")]
        };
        let posted = browser
            .post(absolute(action))
            .form(&form)
            .send()
            .await
            .expect("the upstream answers the form");
        next = absolute(
            posted
                .headers()
                .get("location")
                .unwrap_or_else(|| panic!("the upstream form answered {}", posted.status()))
                .to_str()
                .expect("a text location"),
        );
    }
    panic!("the upstream never redirected back");
}
