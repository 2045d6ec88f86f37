//! The Rust API's configuration ([`Config`]) and error ([`Error`], with its stable code).

use super::*;

/// Where the refresh token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefreshTokenMode {
    /// An `HttpOnly` cookie set by the auth server; JS never sees it (default, recommended).
    #[default]
    Cookie,
    /// In the response body; held in wasm memory and sent in the refresh request body.
    Memory,
}

/// Which `401` answers from an allowed origin trigger one refresh and one retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryOn401 {
    /// Only those with `WWW-Authenticate: Bearer error="invalid_token"` (default).
    #[default]
    InvalidToken,
    /// Every `401`.
    Any,
}

/// Configuration of a [`TokenManager`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Login endpoint (`POST` JSON credentials); required for [`TokenManager::login`].
    pub login_url: Option<String>,
    /// Refresh endpoint (required).
    pub refresh_url: String,
    /// Logout endpoint; without it, logout only wipes local state.
    pub logout_url: Option<String>,
    /// Refresh token transport (default: cookie).
    pub refresh_token: RefreshTokenMode,
    /// Origins whose requests carry the token; empty means the page's own origin.
    pub allowed_origins: Vec<String>,
    /// `credentials` of the auth calls (default `include`, for the refresh cookie).
    pub credentials: RequestCredentials,
    /// Refresh timing.
    pub policy: RefreshPolicy,
    /// Which 401s are retried (default: `invalid_token` challenges only).
    pub retry_on_401: RetryOn401,
    /// Timeout of each auth call, in ms (default 10 000).
    pub request_timeout_ms: u32,
    /// Coordinate with the other tabs of this origin: one refresh at a time, shared tokens and
    /// logout, hand-over to new tabs (default true; see [`tabs`]).
    pub cross_tab: bool,
    /// With `cross_tab`: post tokens to sibling tabs and adopt theirs (default true). `false`
    /// keeps tokens off the channel, which every same-origin page script can join (the
    /// package's worker custody sets it): refreshes stay serialized by the lock, logout still
    /// reaches every tab, and each tab refreshes for itself (see `TabPolicy::share_tokens`).
    pub share_tokens: bool,
    /// Extra input to the cross-tab channel name (two sessions with the same refresh URL and
    /// allowed origins stay apart if their names differ).
    pub channel_name: Option<String>,
    /// Send requests carrying the token with `redirect: "manual"` (unless they asked for
    /// `"error"`) instead of following redirects. Default: off in a browser (window or worker),
    /// where the Fetch standard drops `Authorization` on a cross-origin redirect; on elsewhere
    /// (Node and other hosts, whose `fetch` may not).
    pub manual_redirects: bool,
    /// The name of a script-readable cookie the auth server sets and clears together with the
    /// refresh cookie (the reference server's `__Host-tw_session`). When set,
    /// [`TokenManager::start`] in a window whose `document.cookie` lacks it knows there is no
    /// session and sends no refresh request (a first visit shows no failed request). Default:
    /// none (always try).
    pub session_hint: Option<String>,
    /// The OAuth 2.0 / OpenID Connect profile: the issuer and client to log in with
    /// ([`TokenManager::login_with_redirect`], [`TokenManager::handle_redirect_callback`]). The
    /// provider's token endpoint then refreshes (`refresh_token` grant, the refresh token held
    /// in wasm memory) and its revocation endpoint ends the session; `refresh_url`,
    /// `login_url`, `logout_url`, `refresh_token` and `credentials` are not used. Needs a build
    /// with verification (the ID token is verified against the provider's `jwks_uri`).
    pub oauth: Option<OAuthConfig>,
    /// DPoP (RFC 9449), with the reference server's dialect or the OAuth profile: an ES256 key
    /// pair made at login or in the redirect callback (private key non-extractable, memory
    /// only, shared with sibling tabs, gone at logout), proofs on login or the code exchange,
    /// every refresh and every request carrying the token, which is sent as
    /// `Authorization: DPoP`. With `oauth` the provider must answer `token_type: DPoP`; no
    /// `dpop_jkt` is sent on the authorization request. Default false.
    pub dpop: bool,
    /// Where the tokens live: this realm's wasm memory ([`Custody::Page`], the default) or a
    /// dedicated module worker ([`Custody::Worker`], cargo feature `worker-custody`), where no
    /// script in the page can read them. The API is the same in both.
    pub custody: Custody,
}

impl Config {
    /// Defaults for the OAuth profile with this provider and client (see [`Config::oauth`]).
    pub fn oauth(client: OAuthConfig) -> Self {
        let mut config = Self::new(client.issuer.clone());
        config.oauth = Some(client);
        config
    }

    /// Defaults with this refresh endpoint.
    pub fn new(refresh_url: impl Into<String>) -> Self {
        Self {
            login_url: None,
            refresh_url: refresh_url.into(),
            logout_url: None,
            refresh_token: RefreshTokenMode::Cookie,
            allowed_origins: Vec::new(),
            credentials: RequestCredentials::Include,
            policy: RefreshPolicy::default(),
            retry_on_401: RetryOn401::InvalidToken,
            request_timeout_ms: crate::core::session::DEFAULT_REQUEST_TIMEOUT_MS,
            cross_tab: true,
            share_tokens: true,
            channel_name: None,
            manual_redirects: !in_browser(),
            session_hint: None,
            oauth: None,
            dpop: false,
            custody: Custody::Page,
        }
    }
}

/// An error with a stable code (`ERR_LOGGED_OUT`, `ERR_REFRESH_FAILED`, `ERR_LOGIN_FAILED`,
/// `ERR_NOT_AUTHENTICATED`, `ERR_TOKEN_EXPIRED`, `ERR_INVALID_OPTIONS`, `ERR_FETCH`).
/// Messages never contain a token.
#[derive(Debug, Clone)]
pub struct Error {
    pub(super) code: &'static str,
    pub(super) message: String,
    pub(super) status: Option<u16>,
    pub(super) cause: Option<JsValue>,
}

impl Error {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status: None,
            cause: None,
        }
    }

    pub(super) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// A human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status, for `ERR_LOGIN_FAILED` answered by the server.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// For `ERR_FETCH`: the error the native `fetch` (or `Request` constructor) threw.
    pub fn cause(&self) -> Option<&JsValue> {
        self.cause.as_ref()
    }

    pub(super) fn native(cause: JsValue) -> Self {
        Self {
            cause: Some(cause),
            ..Self::new("ERR_FETCH", "fetch failed")
        }
    }

    pub(super) fn closed() -> Self {
        Self::new("ERR_LOGGED_OUT", "the token manager was freed")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// The core's refusal of a policy option, in the words of the JS driver's (the options' names
/// are the npm package's; [`POLICY_OPTIONS`] maps them to the index the core names).
pub(super) fn policy_error(error: PolicyError) -> Error {
    let message = match error {
        PolicyError::Range { index, min, max } => format!(
            "option \"{}\" must be a number from {min} to {max}",
            POLICY_OPTIONS[index]
        ),
        PolicyError::LeadOrder => "minRefreshLeadMs exceeds maxRefreshLeadMs".into(),
    };
    Error::new("ERR_INVALID_OPTIONS", message)
}
