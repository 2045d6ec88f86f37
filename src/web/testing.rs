//! A test kit for apps' own browser tests (cargo feature `testing`; never in production
//! builds): control authentication deterministically in `wasm-bindgen-test` suites run with
//! `wasm-pack test --headless --chrome`.
//!
//! - [`TestToken`] mints access tokens with chosen claims and lifetimes, for
//!   [`TokenManager::set_tokens`](super::TokenManager::set_tokens) or for the scripted server.
//!   They are well-formed JWTs whose signature is not a signature: the manager decodes tokens
//!   without verifying them, and nothing else should ever accept these.
//! - [`AuthServer`] replaces the page's `fetch` with a scripted auth server and API (login,
//!   refresh, logout, everything else is "the API"), so the manager created after it captures
//!   it. Each endpoint answers from its queue of scripted [`Answer`]s (`invalid_grant`,
//!   `401 invalid_token`, any status, delays), then with its default; [`AuthServer::counts`]
//!   tells what the manager sent. Dropping it puts the previous `fetch` back.
//!
//! The README's "Testing your app" section is `tests/testing_kit.rs`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use js_sys::{Promise, Reflect};
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;
use web_sys::{Headers, Request, Response, ResponseInit};

use super::{now, random_u64, Secret};
use crate::core::b64;

/// An access token to mint: claims and a lifetime, measured from the moment of minting.
#[derive(Clone)]
pub struct TestToken {
    claims: Map<String, Value>,
    lifetime_secs: i64,
}

impl fmt::Debug for TestToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestToken")
            .field("claims", &self.claims)
            .field("lifetime_secs", &self.lifetime_secs)
            .finish()
    }
}

impl Default for TestToken {
    fn default() -> Self {
        Self::new()
    }
}

impl TestToken {
    /// `sub: "test-user"`, `scope: "read"`, valid for
    /// [`TEST_TOKEN_LIFETIME_SECS`](crate::core::time::TEST_TOKEN_LIFETIME_SECS) (300 s).
    pub fn new() -> Self {
        Self {
            claims: Map::new(),
            lifetime_secs: crate::core::time::TEST_TOKEN_LIFETIME_SECS,
        }
        .claim("sub", "test-user")
        .claim("scope", "read")
    }

    /// Sets (or replaces) a claim; `exp`, `iat` and `jti` are set when minting.
    pub fn claim(mut self, name: &str, value: impl serde::Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.claims.insert(name.to_string(), value);
        self
    }

    /// Seconds from minting to `exp`; zero or negative mints an already expired token.
    pub fn lifetime_secs(mut self, seconds: i64) -> Self {
        self.lifetime_secs = seconds;
        self
    }

    /// The lifetime, as an `expires_in` for `set_tokens` or a token response.
    pub fn lifetime(&self) -> i64 {
        self.lifetime_secs
    }

    /// A JWT with these claims plus `iat` (now), `exp` (now + lifetime) and a random `jti`.
    pub fn mint(&self) -> Secret {
        Secret::new(self.mint_string())
    }

    fn mint_string(&self) -> String {
        let issued_at = crate::core::time::unix_secs(now());
        let mut claims = self.claims.clone();
        claims.insert("iat".into(), issued_at.into());
        claims.insert("exp".into(), (issued_at + self.lifetime_secs).into());
        claims.insert("jti".into(), format!("{:016x}", random_u64()).into());
        let header = br#"{"alg":"ES256","typ":"JWT","kid":"tokenwarden-testing"}"#;
        let payload = Value::Object(claims).to_string();
        format!(
            "{}.{}.{}",
            b64::encode(header),
            b64::encode(payload.as_bytes()),
            b64::encode(&[0u8; 64]),
        )
    }
}

/// One scripted answer of an [`AuthServer`] endpoint.
#[derive(Debug, Clone)]
pub struct Answer {
    kind: Kind,
    delay_ms: u32,
}

#[derive(Debug, Clone)]
enum Kind {
    Tokens(Option<TestToken>),
    Status(u16, &'static str),
    InvalidToken,
    Json(u16, String),
}

impl Answer {
    /// A token response (`200`, `access_token`, `expires_in`, a `refresh_token` that only
    /// memory mode keeps) with a token minted from the server's template
    /// ([`AuthServer::issue`]).
    pub fn tokens() -> Self {
        Self::of(Kind::Tokens(None))
    }

    /// A token response with a token minted from `token`.
    pub fn tokens_from(token: TestToken) -> Self {
        Self::of(Kind::Tokens(Some(token)))
    }

    /// `400 {"error":"invalid_grant"}`: the refresh token is revoked or expired (the manager
    /// ends the session) or, for a login, wrong credentials.
    pub fn invalid_grant() -> Self {
        Self::of(Kind::Status(400, "invalid_grant"))
    }

    /// `401` with `WWW-Authenticate: Bearer error="invalid_token"`, as an API answers a token
    /// it no longer accepts.
    pub fn invalid_token() -> Self {
        Self::of(Kind::InvalidToken)
    }

    /// Any status, with a JSON body `{"error": "status_<n>"}` (for example `503` for a transient
    /// refresh failure).
    pub fn status(status: u16) -> Self {
        Self::of(Kind::Status(status, "status"))
    }

    /// A JSON answer (for the API).
    pub fn json(status: u16, body: impl serde::Serialize) -> Self {
        let body = serde_json::to_string(&body).unwrap_or_else(|_| "null".into());
        Self::of(Kind::Json(status, body))
    }

    /// The same answer after `ms` milliseconds.
    pub fn after_ms(mut self, ms: u32) -> Self {
        self.delay_ms = ms;
        self
    }

    fn of(kind: Kind) -> Self {
        Self { kind, delay_ms: 0 }
    }
}

/// What the manager sent to an [`AuthServer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `POST`s to the login path.
    pub login: u32,
    /// `POST`s to the refresh path.
    pub refresh: u32,
    /// `POST`s to the logout path.
    pub logout: u32,
    /// Requests to any other path (the API).
    pub api: u32,
    /// API requests that carried an `Authorization` header.
    pub api_with_token: u32,
    /// API requests whose `Authorization` carried the token issued last (not an older one).
    pub api_with_latest_token: u32,
}

struct Script {
    login_path: String,
    refresh_path: String,
    logout_path: String,
    template: TestToken,
    login: VecDeque<Answer>,
    refresh: VecDeque<Answer>,
    api: VecDeque<Answer>,
    counts: Counts,
    /// `Bearer <token>` of the last token issued (to tell a retry with a new token from one
    /// with the old).
    latest_bearer: Option<String>,
}

enum Endpoint {
    Login,
    Refresh,
    Logout,
    Api,
}

type FetchClosure = Closure<dyn FnMut(JsValue, JsValue) -> Promise>;

/// A scripted auth server and API installed as the global `fetch` (see the module docs).
/// Install it *before* creating the [`TokenManager`](super::TokenManager): the manager
/// captures `fetch` at construction. Paths default to the reference server's: `/auth/login`,
/// `/auth/refresh`, `/auth/logout`; any other path is the API, which answers `200
/// {"ok":true}` to requests with a token and `401` to requests without one unless scripted.
pub struct AuthServer {
    script: Rc<RefCell<Script>>,
    previous_fetch: JsValue,
    _fetch: FetchClosure,
}

impl fmt::Debug for AuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthServer")
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl AuthServer {
    /// Replaces the global `fetch` until the server is dropped.
    pub fn install() -> Self {
        let script = Rc::new(RefCell::new(Script {
            login_path: "/auth/login".into(),
            refresh_path: "/auth/refresh".into(),
            logout_path: "/auth/logout".into(),
            template: TestToken::new(),
            login: VecDeque::new(),
            refresh: VecDeque::new(),
            api: VecDeque::new(),
            counts: Counts::default(),
            latest_bearer: None,
        }));
        let global = js_sys::global();
        let previous_fetch =
            Reflect::get(&global, &JsValue::from_str("fetch")).unwrap_or(JsValue::UNDEFINED);
        let handler = script.clone();
        let fetch = FetchClosure::new(move |input: JsValue, init: JsValue| {
            let script = handler.clone();
            wasm_bindgen_futures::future_to_promise(async move {
                let request = super::fetch::build(&input, &init)
                    .map_err(|error| error.cause().cloned().unwrap_or(JsValue::UNDEFINED))?;
                respond(&script, &request).await.map(JsValue::from)
            })
        });
        let _ = Reflect::set(&global, &JsValue::from_str("fetch"), fetch.as_ref());
        Self {
            script,
            previous_fetch,
            _fetch: fetch,
        }
    }

    /// Uses these paths for login, refresh and logout (matched on the URL's path only).
    pub fn paths(&self, login: &str, refresh: &str, logout: &str) -> &Self {
        let mut script = self.script.borrow_mut();
        script.login_path = login.into();
        script.refresh_path = refresh.into();
        script.logout_path = logout.into();
        self
    }

    /// The template of the tokens that login and refresh issue (default [`TestToken::new`]).
    pub fn issue(&self, token: TestToken) -> &Self {
        self.script.borrow_mut().template = token;
        self
    }

    /// Queues the next login answers (then: [`Answer::tokens`]).
    pub fn login(&self, answers: impl IntoIterator<Item = Answer>) -> &Self {
        self.script.borrow_mut().login.extend(answers);
        self
    }

    /// Queues the next refresh answers (then: [`Answer::tokens`]).
    pub fn refresh(&self, answers: impl IntoIterator<Item = Answer>) -> &Self {
        self.script.borrow_mut().refresh.extend(answers);
        self
    }

    /// Queues the next API answers (then: `200 {"ok":true}` with a token, `401` without).
    pub fn api(&self, answers: impl IntoIterator<Item = Answer>) -> &Self {
        self.script.borrow_mut().api.extend(answers);
        self
    }

    /// What the manager has sent so far.
    pub fn counts(&self) -> Counts {
        self.script.borrow().counts
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = Reflect::set(
            &js_sys::global(),
            &JsValue::from_str("fetch"),
            &self.previous_fetch,
        );
    }
}

async fn respond(script: &Rc<RefCell<Script>>, request: &Request) -> Result<Response, JsValue> {
    let path = web_sys::Url::new(&request.url())?.pathname();
    let authorization = request.headers().get("Authorization")?;
    let (answer, template) = {
        let mut script = script.borrow_mut();
        let endpoint = if path == script.login_path {
            Endpoint::Login
        } else if path == script.refresh_path {
            Endpoint::Refresh
        } else if path == script.logout_path {
            Endpoint::Logout
        } else {
            Endpoint::Api
        };
        let script = &mut *script;
        let counts = &mut script.counts;
        let scripted = match endpoint {
            Endpoint::Login => {
                counts.login += 1;
                script.login.pop_front()
            }
            Endpoint::Refresh => {
                counts.refresh += 1;
                script.refresh.pop_front()
            }
            Endpoint::Logout => {
                counts.logout += 1;
                Some(Answer::of(Kind::Json(200, "{}".into())))
            }
            Endpoint::Api => {
                counts.api += 1;
                if authorization.is_some() {
                    counts.api_with_token += 1;
                }
                if authorization.is_some() && authorization == script.latest_bearer {
                    counts.api_with_latest_token += 1;
                }
                script.api.pop_front()
            }
        };
        let answer = scripted.unwrap_or_else(|| match endpoint {
            Endpoint::Api if authorization.is_none() => {
                Answer::of(Kind::Json(401, r#"{"error":"unauthorized"}"#.into()))
            }
            Endpoint::Api => Answer::of(Kind::Json(200, r#"{"ok":true}"#.into())),
            _ => Answer::tokens(),
        });
        (answer, script.template.clone())
    };
    if answer.delay_ms > 0 {
        gloo_timers::future::TimeoutFuture::new(answer.delay_ms).await;
    }
    match answer.kind {
        Kind::Tokens(token) => {
            let token = token.unwrap_or(template);
            let access_token = token.mint_string();
            script.borrow_mut().latest_bearer = Some(format!("Bearer {access_token}"));
            let body = serde_json::json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": token.lifetime().max(0),
                "refresh_token": format!("test-refresh-{:016x}", random_u64()),
            });
            response(200, Some(&body.to_string()), None)
        }
        Kind::Status(status, "status") => response(
            status,
            Some(&format!(r#"{{"error":"status_{status}"}}"#)),
            None,
        ),
        Kind::Status(status, error) => {
            response(status, Some(&format!(r#"{{"error":"{error}"}}"#)), None)
        }
        Kind::InvalidToken => response(
            401,
            Some(r#"{"error":"invalid_token"}"#),
            Some(r#"Bearer error="invalid_token""#),
        ),
        Kind::Json(status, body) => response(status, Some(&body), None),
    }
}

fn response(status: u16, body: Option<&str>, challenge: Option<&str>) -> Result<Response, JsValue> {
    let headers = Headers::new()?;
    headers.set("Content-Type", "application/json")?;
    if let Some(challenge) = challenge {
        headers.set("WWW-Authenticate", challenge)?;
    }
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(body, &init)
}
