//! Reference auth server for tokenwarden.
//!
//! Login with demo users, opaque rotating refresh tokens (families with reuse detection),
//! logout with a `jti` blocklist, a JWKS, and protected demo resources whose bearer tokens are
//! verified with tokenwarden's own core. Families, blocklist and login throttle live in a
//! [`store`] (memory, SQLite or Redis); signing keys are generated or loaded from a file.
//!
//! [`start`] is the one way to run it (`main.rs` and the tests' [`spawn`] both use it).
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod dpop;
pub mod hooks;
pub mod keys;
pub mod sessions;
pub mod state;
pub mod store;
pub mod trust;
pub mod users;
pub mod util;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tower::ServiceExt;

use crate::store::Store;
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::timeout::RequestBodyTimeoutLayer;

pub use crate::config::{
    Config, ForwardedHeader, PasswordCost, RefreshTransport, SigningAlg, StoreSpec, TrustProxy,
    UserSpec,
};
pub use crate::state::AppState;

/// Per-connection handle that lets a handler close its connection without answering
/// (the `drop` fault). Inserted as a request extension by [`serve_state`].
#[derive(Clone)]
pub struct ConnKill(pub Arc<Notify>);

/// The client's address (request extension inserted by the connection loop).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// The whole application: routes and static files inside, then (outermost last) the body
/// read timeout, the cross-origin refusal, CORS, the path and `Host` checks, `Date`, logging.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/me", get(api::me))
        .route("/api/items", get(api::items).post(api::add_item))
        .route("/api/admin", get(api::admin))
        .route("/api/echo", any(api::echo))
        .route("/healthz", get(|| async { "ok" }));
    router = if state.config.test_hooks {
        router
            .merge(hooks::router())
            .route("/api/redirect", get(api::redirect))
    } else {
        router
            .route("/__test", any(api::not_found))
            .route("/__test/{*rest}", any(api::not_found))
    };
    if let Some(dir) = &state.config.examples_dir {
        router = router.nest_service("/examples", ServeDir::new(dir));
    }
    router
        .nest_service("/pkg", ServeDir::new(&state.config.pkg_dir))
        .fallback_service(ServeDir::new(&state.config.www_dir))
        .layer(middleware::from_fn_with_state(state.clone(), dpop::guard))
        .layer(RequestBodyTimeoutLayer::new(state.config.body_timeout))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_cross_origin,
        ))
        .layer(cors_layer(&state))
        .layer(middleware::from_fn_with_state(state.clone(), check_request))
        .layer(middleware::from_fn_with_state(state.clone(), date_header))
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .with_state(state)
}

async fn jwks(State(state): State<AppState>) -> Response {
    let body = state.keys().jwks_json().to_string();
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// Generates a new signing key (off the async threads) and makes it current; the previous
/// public keys stay published. Returns the new `kid`.
pub async fn rotate_keys(state: &AppState) -> Result<String, String> {
    let alg = state.keys().alg();
    let key = tokio::task::spawn_blocking(move || keys::NewKey::generate(alg))
        .await
        .map_err(|e| format!("key generation task failed: {e}"))??;
    let mut ring = state.keys_mut();
    ring.install(key)?;
    Ok(ring.current_kid().to_string())
}

fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let (host, port) = match rest.strip_prefix("[::1]") {
        Some(port) => ("[::1]", port),
        None => match rest.find(':') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        },
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
        });
    matches!(host, "127.0.0.1" | "localhost" | "[::1]") && port_ok
}

impl AppState {
    /// Whether CORS answers for `origin` (exact match, or the loopback test flag).
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.config.allow_origins.iter().any(|o| o == origin)
            || (self.config.allow_any_loopback_origin && is_loopback_origin(origin))
    }
}

fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

/// CORS for the configured origins only: the exact origin echoed, with credentials, and the
/// headers the token manager reads exposed. Refused origins get no CORS headers.
fn cors_layer(state: &AppState) -> CorsLayer {
    let (st, st2) = (state.clone(), state.clone());
    let mut allow_headers = vec![header::AUTHORIZATION, header::CONTENT_TYPE];
    let mut expose_headers = vec![header::DATE, header::WWW_AUTHENTICATE, header::RETRY_AFTER];
    if state.dpop.is_some() {
        // Pages send proofs and read the server's nonce.
        allow_headers.push(dpop::DPOP.clone());
        expose_headers.push(dpop::DPOP_NONCE.clone());
    }
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| st.origin_allowed(o))
        }))
        .allow_credentials(AllowCredentials::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| st2.origin_allowed(o))
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(allow_headers)
        .expose_headers(expose_headers)
        .max_age(Duration::from_secs(600))
}

/// CSRF defence in depth: a cross-origin request from an origin that is neither allowed nor
/// our own never reaches `POST /auth/*` or the test hooks (a `text/plain` POST needs no
/// preflight, so CORS alone would not stop it).
async fn refuse_cross_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let guarded = (req.method() == Method::POST && path.starts_with("/auth/"))
        || path == "/__test"
        || path.starts_with("/__test/");
    let foreign = req
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or(""))
        .is_some_and(|o| !state.origin_allowed(o) && !same_origin(o, req.headers()));
    if guarded && foreign {
        return util::json_error(StatusCode::FORBIDDEN, "origin_not_allowed");
    }
    next.run(req).await
}

/// Longest path segment served (file names longer than this cannot exist).
const MAX_SEGMENT: usize = 255;
/// Longest path served.
const MAX_PATH: usize = 2048;

/// Refuses requests not meant for us before any handler: a `Host` that is not ours (`421`:
/// DNS rebinding points a hostile name at this address) and paths no file can have (`404`
/// / `414`, where the static file service would fail with a `500`).
async fn check_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    match host {
        None => return util::json_error(StatusCode::BAD_REQUEST, "missing_host"),
        Some(h) if !state.allowed_hosts.contains(&h) => {
            return util::json_error(StatusCode::MISDIRECTED_REQUEST, "misdirected_request")
        }
        Some(_) => {}
    }
    let path = req.uri().path();
    if path.len() > MAX_PATH {
        return util::json_error(StatusCode::URI_TOO_LONG, "uri_too_long");
    }
    if path.split('/').any(|seg| seg.len() > MAX_SEGMENT) {
        return util::json_error(StatusCode::NOT_FOUND, "not_found");
    }
    next.run(req).await
}

/// `Date` from the server clock (which the test clock offset skews); hyper only adds its own
/// `Date` when the response has none.
async fn date_header(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let date = httpdate::fmt_http_date(state.now_system_time());
    if let Ok(v) = HeaderValue::from_str(&date) {
        res.headers_mut().insert(header::DATE, v);
    }
    res
}

/// One line per request on stderr: method, path (never the query string), status, ms.
async fn log_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.config.log_requests {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let path: String = req.uri().path().chars().take(200).collect();
    let start = Instant::now();
    let res = next.run(req).await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    eprintln!("{method} {path} {} {ms:.1}ms", res.status().as_u16());
    res
}

/// Starts a key-rotation timer if configured.
fn spawn_key_rotation(state: &AppState) {
    if let Some(secs) = state.config.rotate_keys_secs.filter(|s| *s > 0) {
        let st = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(secs));
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = rotate_keys(&st).await {
                    eprintln!("error: key rotation failed: {e}");
                }
            }
        });
    }
}

/// With a reuse-grace window, erases the sealed successors whose window has ended, about four
/// times per window (at most every 50 ms, at least every second): a copy of the store taken
/// after a window holds nothing that leads to a live token. The sweeper stops when the task
/// set returned is dropped (with the accept loop).
fn spawn_seal_sweeper(state: &AppState) -> tokio::task::JoinSet<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let lifetimes = state.lifetimes();
    if lifetimes.grace_ms <= 0 {
        return tasks;
    }
    let period = Duration::from_millis((lifetimes.grace_ms as u64 / 4).clamp(50, 1000));
    let st = state.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = st.store.forget_seals(st.now_ms(), lifetimes).await {
                eprintln!("error: erasing expired sealed successors: {e}");
            }
        }
    });
    tasks
}

/// Answer to a connection over the cap: written by hand, then the socket is closed.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 35\r\n\r\n{\"error\":\"temporarily_unavailable\"}";

/// Accepts connections until the task is dropped (HTTP/1.1, one task per connection, at most
/// `max_connections` at once).
async fn serve_connections(state: AppState, listener: TcpListener) -> io::Result<()> {
    spawn_key_rotation(&state);
    let _sweeper = spawn_seal_sweeper(&state);
    let slots = Arc::new(Semaphore::new(state.config.max_connections));
    let app = app(state);
    loop {
        let (mut stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let _ = stream.write_all(OVER_CAPACITY).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let kill = Arc::new(Notify::new());
        let handle = ConnKill(kill.clone());
        let svc = app
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(handle.clone());
                req.extensions_mut().insert(PeerAddr(peer));
                req
            });
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
            }
            drop(slot);
        });
    }
}

/// A running server.
pub struct Running {
    /// Bound address.
    pub addr: SocketAddr,
    /// Shared state (for assertions).
    pub state: AppState,
    task: Option<tokio::task::JoinHandle<io::Result<()>>>,
}

impl Running {
    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves until the accept loop fails.
    pub async fn wait(mut self) -> io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Builds the state (keys, password hashes, store) off the async threads and starts serving
/// on `listener` in the current runtime. The one start-up path of the binary and the tests.
pub async fn start(config: Config, listener: TcpListener) -> io::Result<Running> {
    let addr = listener.local_addr()?;
    let state = tokio::task::spawn_blocking(move || AppState::new(config, addr))
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?;
    let task = tokio::spawn(serve_connections(state.clone(), listener));
    Ok(Running {
        addr,
        state,
        task: Some(task),
    })
}

/// Starts the server on `127.0.0.1:0` (tests).
pub async fn spawn(config: Config) -> io::Result<Running> {
    start(config, TcpListener::bind(("127.0.0.1", 0)).await?).await
}

#[cfg(test)]
mod tests {
    use super::is_loopback_origin;

    #[test]
    fn loopback_origins() {
        for ok in [
            "http://127.0.0.1:8000",
            "http://localhost:1",
            "http://[::1]:9",
            "http://localhost",
        ] {
            assert!(is_loopback_origin(ok), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:8000",
            "http://127.0.0.1.evil.com:80",
            "http://localhost.evil:80",
            "http://127.0.0.1:80/x",
            "http://127.0.0.1:",
            "null",
            "http://evil.com",
        ] {
            assert!(!is_loopback_origin(bad), "{bad}");
        }
    }
}
