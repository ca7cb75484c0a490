//! A real nginx in front of authgate for the tests: `auth_request` sends each
//! `/api/` request to authgate's forward-auth endpoint, and on a 2xx proxies
//! it to an upstream with the identity authgate answered as `X-Auth-*`
//! headers; a 401 or 403 from authgate reaches the client as is.
//!
//! Each [`Nginx`] runs from its own temp directory (config, pid file, logs,
//! temp paths) on a free loopback port, as one process (`master_process
//! off`), and is killed when dropped. It also dies if the test process dies
//! without dropping it: a small `sh` watchdog holds a pipe from the test and
//! kills nginx when that pipe closes. The binary is `/usr/sbin/nginx` or
//! `$AUTHGATE_TEST_NGINX` (`./scripts/test` installs `nginx-light`).

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::temp_dir;

/// How long [`Nginx::start`] waits for the port to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running nginx; killed (and waited for) on drop.
pub struct Nginx {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    pub port: u16,
    /// The prefix directory: `nginx.conf`, `nginx.pid`, `error.log`,
    /// `access.log`, `stderr.log` and the temp paths. Removed on drop unless
    /// the test is panicking (then its path is printed).
    pub dir: PathBuf,
    /// The `sh` watchdog whose child is nginx; its stdin is the lifeline.
    watchdog: Child,
    lifeline: Option<ChildStdin>,
}

impl Nginx {
    /// Start nginx proxying `/api/` to `upstream_base` behind `auth_request`
    /// to `{authgate_base}/v1/authz/forward`. Both bases are `http://host:port`
    /// (a trailing slash is dropped, so the upstream sees the original URI).
    pub async fn start(authgate_base: &str, upstream_base: &str) -> Nginx {
        let binary = nginx_binary();
        let mut attempts = 0;
        loop {
            let dir = temp_dir("nginx");
            let port = free_port();
            let config = config(&dir, port, authgate_base, upstream_base);
            std::fs::write(dir.join("nginx.conf"), config).unwrap();
            let mut nginx = Nginx::spawn(&binary, dir, port);
            match nginx.wait_ready().await {
                Ok(()) => return nginx,
                // The free port was taken by someone else between our probe
                // and nginx's bind: try another (this one's dir is removed).
                Err(error) if error.contains("Address already in use") && attempts < 2 => {
                    attempts += 1;
                }
                // Panics with `nginx` alive: its directory is kept.
                Err(error) => panic!("nginx did not start: {error}"),
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// One line per request: `"$request" $status auth=$auth_status upstream=$upstream_status`.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }

    fn spawn(binary: &Path, dir: PathBuf, port: u16) -> Nginx {
        let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
        // `exec 3<&0` keeps the lifeline (stdin) open in the watcher, which
        // an asynchronous list would otherwise get as /dev/null. The watcher
        // kills nginx once the lifeline closes (drop, or the test process
        // dying); `wait` makes the watchdog exit with nginx's status.
        let script = r#"exec 3<&0
"$@" </dev/null &
nginx=$!
{ read _ <&3; kill -9 "$nginx" 2>/dev/null; } &
wait "$nginx""#;
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("authgate-test-nginx")
            .arg(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            // Errors from before the config is read (else: the compiled-in log).
            .arg("-e")
            .arg(dir.join("error.log"))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(stderr.try_clone().unwrap())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run sh to start nginx: {e}"));
        let lifeline = watchdog.stdin.take();
        Nginx {
            base: format!("http://127.0.0.1:{port}"),
            port,
            dir,
            watchdog,
            lifeline,
        }
    }

    /// Ready once nginx wrote its pid file (it does so after binding its
    /// listening socket) and the port accepts a connection.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let pid_file = self.dir.join("nginx.pid");
        loop {
            if let Some(status) = self.watchdog.try_wait().unwrap() {
                return Err(format!("it exited ({status}).\n{}", self.logs()));
            }
            let pid_written = std::fs::read_to_string(&pid_file)
                .map(|pid| !pid.trim().is_empty())
                .unwrap_or(false);
            if pid_written
                && tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                    .await
                    .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "port {} did not answer within {START_TIMEOUT:?}.\n{}",
                    self.port,
                    self.logs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!(
            "--- {dir}/error.log:\n{error}\n--- stderr:\n{stderr}\n--- nginx.conf:\n{conf}",
            dir = self.dir.display(),
            error = read("error.log"),
            stderr = read("stderr.log"),
            conf = read("nginx.conf"),
        )
    }

    /// Kill nginx and wait for it (and the watchdog).
    fn stop(&mut self) {
        // Closing the lifeline makes the watcher kill nginx.
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.watchdog.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        // Should not happen: kill nginx by its pid file, then the watchdog.
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("nginx.pid")) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("nginx logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `$AUTHGATE_TEST_NGINX` or `/usr/sbin/nginx`; panics when it is missing.
fn nginx_binary() -> PathBuf {
    let binary = std::env::var_os("AUTHGATE_TEST_NGINX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"));
    if !binary.is_file() {
        panic!(
            "nginx is required for these tests and {} does not exist: run \
             `apt-get install nginx-light` (./scripts/test does), or set \
             AUTHGATE_TEST_NGINX to an nginx binary",
            binary.display()
        );
    }
    binary
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether this process runs as root (effective uid 0).
fn running_as_root() -> bool {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(uids) = status.lines().find_map(|l| l.strip_prefix("Uid:"))
    {
        return uids.split_whitespace().nth(1) == Some("0");
    }
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn config(dir: &Path, port: u16, authgate_base: &str, upstream_base: &str) -> String {
    let dir = dir.display();
    let authgate = authgate_base.trim_end_matches('/');
    let upstream = upstream_base.trim_end_matches('/');
    // As root, nginx would otherwise look up and chown its temp paths to
    // `nobody`; one process never switches user, so root is what runs.
    let user = if running_as_root() {
        "user root;\n"
    } else {
        ""
    };
    format!(
        r#"# Written by crates/authgate/tests/common/nginx.rs.
{user}daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
lock_file {dir}/nginx.lock;
error_log {dir}/error.log notice;

events {{
    worker_connections 256;
}}

http {{
    default_type application/octet-stream;
    log_format authgate '"$request" $status auth=$auth_status upstream=$upstream_status';
    access_log {dir}/access.log authgate;
    client_body_temp_path {dir}/client_body_temp;
    proxy_temp_path {dir}/proxy_temp;
    fastcgi_temp_path {dir}/fastcgi_temp;
    uwsgi_temp_path {dir}/uwsgi_temp;
    scgi_temp_path {dir}/scgi_temp;
    proxy_connect_timeout 5s;
    proxy_read_timeout 30s;

    server {{
        listen 127.0.0.1:{port};
        server_name localhost;

        location /api/ {{
            auth_request /_authgate;
            auth_request_set $auth_status $upstream_status;
            auth_request_set $auth_user $upstream_http_x_auth_user_id;
            auth_request_set $auth_subject $upstream_http_x_auth_subject;
            auth_request_set $auth_tenant $upstream_http_x_auth_tenant_id;
            auth_request_set $auth_roles $upstream_http_x_auth_roles;
            # These replace any X-Auth-* header the client sent (an empty
            # value sends none at all).
            proxy_set_header X-Auth-User-Id $auth_user;
            proxy_set_header X-Auth-Subject $auth_subject;
            proxy_set_header X-Auth-Tenant-Id $auth_tenant;
            proxy_set_header X-Auth-Roles $auth_roles;
            proxy_pass {upstream};
        }}

        location = /_authgate {{
            internal;
            proxy_pass {authgate}/v1/authz/forward;
            # The client's headers (Authorization among them) are passed
            # by default (proxy_pass_request_headers on); its body is not.
            proxy_pass_request_headers on;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
        }}
    }}
}}
"#
    )
}

/// An upstream that answers every request with what it received, as JSON:
/// `{"method", "path", "query" (or null), "uri" (path and query),
/// "headers": {lower-case name: value}}` (repeated headers joined by ", "),
/// and keeps each of those documents for [`EchoUpstream::seen`].
pub struct EchoUpstream {
    pub base: String,
    seen: Arc<Mutex<Vec<Value>>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl EchoUpstream {
    pub async fn start() -> EchoUpstream {
        let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let record = seen.clone();
        let app = Router::new().fallback(move |request: Request| {
            let record = record.clone();
            async move {
                let echoed = echo(&request);
                record.lock().unwrap().push(echoed.clone());
                (StatusCode::OK, axum::Json(echoed)).into_response()
            }
        });
        let handle = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        EchoUpstream {
            base,
            seen,
            handle: Some(handle),
        }
    }

    /// Every request received so far, oldest first.
    pub fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for EchoUpstream {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

/// What [`EchoUpstream`] answers for `request`.
pub fn echo(request: &Request) -> Value {
    let mut headers = Map::new();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(previous)) => {
                previous.push_str(", ");
                previous.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    let uri = request.uri();
    json!({
        "method": request.method().as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "uri": uri.path_and_query().map(|pq| pq.as_str()).unwrap_or(uri.path()),
        "headers": headers,
    })
}
