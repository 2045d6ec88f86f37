//! Reference auth server for tokenwarden.
//!
//! Login with demo users, opaque rotating refresh tokens (families with reuse detection),
//! logout with a `jti` blocklist, a JWKS, and protected demo resources whose bearer tokens are
//! verified with tokenwarden's own core. Everything is in memory.
//!
//! Start it in-process with [`serve`] (or [`spawn`] in tests); `main.rs` is a thin CLI.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod hooks;
pub mod keys;
pub mod sessions;
pub mod state;
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
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;
use tower_http::services::ServeDir;

pub use crate::config::{Config, PasswordCost, RefreshTransport, SigningAlg, UserSpec};
pub use crate::state::AppState;

/// Per-connection handle that lets a handler close its connection without answering
/// (the `drop` fault). Inserted as a request extension by [`serve_state`].
#[derive(Clone)]
pub struct ConnKill(pub Arc<Notify>);

/// The whole application (routes, CORS, `Date`, logging, static files).
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/me", get(api::me))
        .route("/api/items", get(api::items))
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
    router
        .nest_service("/pkg", ServeDir::new(&state.config.pkg_dir))
        .fallback_service(ServeDir::new(&state.config.www_dir))
        .layer(middleware::from_fn_with_state(state.clone(), cors))
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

const EXPOSE: &str = "Date, WWW-Authenticate, Retry-After";

async fn cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    let allowed = origin.as_deref().is_some_and(|o| state.origin_allowed(o));
    let preflight = req.method() == Method::OPTIONS
        && origin.is_some()
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut res = if allowed {
            let mut res = StatusCode::NO_CONTENT.into_response();
            let h = res.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            res
        } else {
            StatusCode::FORBIDDEN.into_response()
        };
        add_cors_headers(&mut res, origin.as_deref().filter(|_| allowed));
        let h = res.headers_mut();
        h.append(
            header::VARY,
            HeaderValue::from_static(
                "Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        return res;
    }
    // CSRF defence in depth: a cross-origin POST to /auth/* from an origin that is neither
    // allowed nor our own is refused before it can touch a session.
    if let Some(o) = origin.as_deref() {
        if !allowed
            && req.method() == Method::POST
            && req.uri().path().starts_with("/auth/")
            && !same_origin(o, req.headers())
        {
            let mut res = util::json_error(StatusCode::FORBIDDEN, "origin_not_allowed");
            add_cors_headers(&mut res, None);
            return res;
        }
    }
    let mut res = next.run(req).await;
    add_cors_headers(&mut res, origin.as_deref().filter(|_| allowed));
    res
}

fn add_cors_headers(res: &mut Response, allowed_origin: Option<&str>) {
    let h = res.headers_mut();
    if let Some(o) = allowed_origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE),
        );
    }
    h.append(header::VARY, HeaderValue::from_static("Origin"));
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

/// Builds the state and serves on `listener` until the task is dropped.
pub async fn serve(config: Config, listener: TcpListener) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let state = tokio::task::spawn_blocking(move || AppState::new(config, addr))
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?;
    serve_state(state, listener).await
}

/// Serves an already built state (HTTP/1.1, one task per connection).
pub async fn serve_state(state: AppState, listener: TcpListener) -> io::Result<()> {
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
    let app = app(state);
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let kill = Arc::new(Notify::new());
        let handle = ConnKill(kill.clone());
        let svc = app
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(handle.clone());
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
        });
    }
}

/// A server running in-process (tests).
pub struct Running {
    /// Bound address.
    pub addr: SocketAddr,
    /// Shared state (for assertions).
    pub state: AppState,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl Running {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the server on `127.0.0.1:0` in the current runtime.
pub async fn spawn(config: Config) -> io::Result<Running> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let state = tokio::task::spawn_blocking(move || AppState::new(config, addr))
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?;
    let task = tokio::spawn(serve_state(state.clone(), listener));
    Ok(Running { addr, state, task })
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
