//! Server configuration (built by the CLI in `main.rs`, or directly by tests).

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::store::StoreSpec;

/// Signing algorithm of the access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    /// ECDSA P-256 with SHA-256 (default).
    Es256,
    /// Ed25519.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    Rs256,
}

impl SigningAlg {
    /// The JOSE `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
            SigningAlg::Rs256 => "RS256",
        }
    }

    /// Parses `es256`, `eddsa` or `rs256` (case-insensitive).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "es256" => Ok(SigningAlg::Es256),
            "eddsa" | "ed25519" => Ok(SigningAlg::EdDsa),
            "rs256" => Ok(SigningAlg::Rs256),
            other => Err(format!(
                "unknown algorithm {other:?} (expected es256, eddsa or rs256)"
            )),
        }
    }
}

/// Where the refresh token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshTransport {
    /// `Set-Cookie: __Host-tw_refresh=...; Path=/; Secure; HttpOnly; SameSite=Strict` (default).
    Cookie,
    /// `refresh_token` in the JSON response body, and in the JSON/form request body.
    Body,
}

impl RefreshTransport {
    /// Parses `cookie` or `body`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "cookie" => Ok(RefreshTransport::Cookie),
            "body" => Ok(RefreshTransport::Body),
            other => Err(format!(
                "unknown refresh transport {other:?} (expected cookie or body)"
            )),
        }
    }
}

/// A demo user: the password is hashed with Argon2id at start-up and then dropped.
#[derive(Clone)]
pub struct UserSpec {
    /// User name (the `sub` claim).
    pub username: String,
    /// Plain-text password (only held until start-up hashing).
    pub password: String,
    /// Space-separated scopes granted to the user.
    pub scope: String,
}

impl fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSpec")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("scope", &self.scope)
            .finish()
    }
}

/// Scope given to users unless a users-file line says otherwise.
pub const DEFAULT_SCOPE: &str = "read write";

impl UserSpec {
    /// Parses `name:password` (the password is everything after the first `:`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, password) = spec
            .split_once(':')
            .ok_or_else(|| "a user must be given as name:password".to_string())?;
        if name.is_empty() || name.len() > 128 || name.chars().any(|c| c.is_control() || c == ' ') {
            return Err("a user name must be 1-128 characters without spaces".into());
        }
        if password.is_empty() {
            return Err(format!("user {name:?} has an empty password"));
        }
        Ok(UserSpec {
            username: name.to_string(),
            password: password.to_string(),
            scope: DEFAULT_SCOPE.to_string(),
        })
    }

    /// Parses a users file: one `name:password` per line; blank lines and lines starting with
    /// `#` are ignored. An optional scope list can follow a TAB: `name:password<TAB>read admin`.
    pub fn parse_file(text: &str) -> Result<Vec<Self>, String> {
        let mut users = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let (cred, scope) = match line.split_once('\t') {
                Some((c, s)) => (c, Some(s.trim())),
                None => (line, None),
            };
            let mut user = UserSpec::parse(cred).map_err(|e| format!("line {}: {e}", i + 1))?;
            if let Some(scope) = scope {
                user.scope = scope.split_whitespace().collect::<Vec<_>>().join(" ");
            }
            users.push(user);
        }
        Ok(users)
    }
}

/// Argon2id cost parameters for the demo users' password hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl Default for PasswordCost {
    /// OWASP's recommended Argon2id minimum (19 MiB, 2 iterations, 1 lane) = argon2's default.
    fn default() -> Self {
        PasswordCost {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        }
    }
}

impl PasswordCost {
    /// Very cheap parameters, for tests only.
    pub fn cheap_for_tests() -> Self {
        PasswordCost {
            m_kib: 64,
            t: 1,
            p: 1,
        }
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Access-token issuer; default `http://127.0.0.1:<port>` (the bound port).
    pub issuer: Option<String>,
    /// Access-token audience.
    pub audience: String,
    /// An external OAuth 2.0 / OpenID Connect issuer whose JWT access tokens the API accepts
    /// too, and the audience they must carry (see [`crate::trust`]).
    pub trust_issuer: Option<(String, String)>,
    /// A PEM file of extra certificate authorities for the trusted issuer's https (besides the
    /// platform's roots).
    pub trust_ca: Option<std::path::PathBuf>,
    /// Access-token lifetime in seconds.
    pub access_ttl_secs: u64,
    /// Absolute refresh-token family lifetime in seconds (from login).
    pub refresh_ttl_secs: u64,
    /// Idle lifetime: a family unused for this long is dead.
    pub refresh_idle_secs: u64,
    /// Grace window in ms during which re-presenting a just-rotated token is not treated as
    /// reuse (benign races between tabs); 0 disables it.
    pub reuse_grace_ms: u64,
    /// Refresh-token transport.
    pub refresh_transport: RefreshTransport,
    /// Signing algorithm.
    pub alg: SigningAlg,
    /// Rotate the signing key every N seconds (the old public keys stay in the JWKS).
    pub rotate_keys_secs: Option<u64>,
    /// Allowed CORS origins (exact `scheme://host[:port]`).
    pub allow_origins: Vec<String>,
    /// TEST FLAG: also allow any `http://127.0.0.1:<port>` / `http://localhost:<port>` origin.
    pub allow_any_loopback_origin: bool,
    /// Enables the `/__test/*` endpoints.
    pub test_hooks: bool,
    /// Demo users.
    pub users: Vec<UserSpec>,
    /// Argon2id cost.
    pub password_cost: PasswordCost,
    /// Directory served at `/`.
    pub www_dir: PathBuf,
    /// Directory served at `/pkg/`.
    pub pkg_dir: PathBuf,
    /// Directory served at `/examples/` (the built example apps), if any.
    pub examples_dir: Option<PathBuf>,
    /// `Secure` attribute (and the `__Host-` cookie names) on the cookies; `None` = automatic,
    /// which is `Secure`: browsers count http://localhost and http://127.0.0.1 as trustworthy
    /// and keep `Secure` cookies from them. `Some(false)` (plain http off loopback) falls back to
    /// the unprefixed names `tw_refresh` (`Path=/auth`) and `tw_session`.
    pub cookie_secure: Option<bool>,
    /// One log line per request on stderr.
    pub log_requests: bool,
    /// Login attempts allowed per user name and client address before throttling kicks in.
    pub login_max_failures: u32,
    /// Login attempts allowed per client address (across user names) before throttling.
    pub login_ip_max_failures: u32,
    /// Behind a reverse proxy: which header names the client and how many proxies append to
    /// it ([`TrustProxy`]); `None` (the default) keys the login throttle on the TCP peer and
    /// ignores forwarding headers, which anyone can send.
    pub trust_proxy: Option<TrustProxy>,
    /// Where refresh families, the blocklist and the throttle live.
    pub store: StoreSpec,
    /// Signing key file (a private JWK, a JWK Set whose first key signs, or a PKCS#8 PEM);
    /// `None` = generate a key at start.
    pub signing_key: Option<PathBuf>,
    /// Extra `Host` values accepted (`host[:port]`), e.g. behind a reverse proxy.
    pub allow_hosts: Vec<String>,
    /// A request body must arrive within this time (else `408`).
    pub body_timeout: Duration,
    /// Open connections served at once; more get `503` with `Retry-After` and are closed.
    pub max_connections: usize,
    /// DPoP (RFC 9449): bound tokens, proofs required on `/api/*` and the token endpoints.
    pub dpop: bool,
    /// With `dpop`: require the server's `DPoP-Nonce` in proofs.
    pub dpop_nonce: bool,
    /// With `dpop_nonce`: the file the nonce key is derived from (`None`: the signing key
    /// file, or a random key without one).
    pub dpop_nonce_key: Option<PathBuf>,
    /// With `dpop`: live proofs per client key in the replay cache.
    pub dpop_quota: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            issuer: None,
            audience: "tokenwarden-demo".into(),
            trust_issuer: None,
            trust_ca: None,
            access_ttl_secs: 300,
            refresh_ttl_secs: 86_400,
            refresh_idle_secs: 14_400,
            reuse_grace_ms: 0,
            refresh_transport: RefreshTransport::Cookie,
            alg: SigningAlg::Es256,
            rotate_keys_secs: None,
            allow_origins: Vec::new(),
            allow_any_loopback_origin: false,
            test_hooks: false,
            users: vec![UserSpec {
                username: "demo".into(),
                password: "demo-password".into(),
                scope: DEFAULT_SCOPE.into(),
            }],
            password_cost: PasswordCost::default(),
            www_dir: PathBuf::from("www"),
            pkg_dir: PathBuf::from("pkg"),
            examples_dir: None,
            cookie_secure: None,
            log_requests: true,
            login_max_failures: 5,
            login_ip_max_failures: 20,
            trust_proxy: None,
            store: StoreSpec::Memory,
            signing_key: None,
            allow_hosts: Vec::new(),
            body_timeout: Duration::from_secs(10),
            max_connections: 256,
            dpop: false,
            dpop_nonce: false,
            dpop_nonce_key: None,
            dpop_quota: tokenwarden::core::dpop::DEFAULT_PROOFS_PER_KEY,
        }
    }
}

/// The header a trusted reverse proxy writes the client's address into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, ...` (each proxy appends its peer).
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1, ...` (RFC 7239).
    Forwarded,
}

/// `--trust-proxy HEADER[:HOPS]`: the client is the address the `hops`-th proxy from us
/// appended to `header` (the `hops`-th entry from the right). Entries further left were written
/// by the client and are never believed. The server must be reachable only through the
/// proxies (else a client could write the header itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustProxy {
    /// The header the proxies append to.
    pub header: ForwardedHeader,
    /// How many proxies stand in front of the server (1 to 16).
    pub hops: u8,
}

impl TrustProxy {
    /// Parses `x-forwarded-for`, `forwarded`, or either followed by `:HOPS` (1 to 16).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, hops) = match s.split_once(':') {
            Some((name, hops)) => (
                name,
                hops.parse::<u8>().ok().filter(|h| (1..=16).contains(h)),
            ),
            None => (s, Some(1)),
        };
        let header = match name.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => ForwardedHeader::XForwardedFor,
            "forwarded" => ForwardedHeader::Forwarded,
            _ => {
                return Err(format!(
                    "--trust-proxy {s:?}: expected x-forwarded-for or forwarded, then :HOPS"
                ))
            }
        };
        let hops = hops.ok_or_else(|| format!("--trust-proxy {s:?}: HOPS is 1 to 16"))?;
        Ok(TrustProxy { header, hops })
    }
}

/// Normalizes and validates an origin given on the command line.
pub fn parse_origin(s: &str) -> Result<String, String> {
    let s = s.trim_end_matches('/');
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| format!("origin {s:?} must look like http://host:port"))?;
    if scheme != "http" && scheme != "https" {
        return Err(format!("origin {s:?} must use http or https"));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) || s == "*" {
        return Err(format!(
            "origin {s:?} must be scheme://host[:port] with no path"
        ));
    }
    Ok(s.to_ascii_lowercase())
}

/// Whether an IP address is loopback (127.0.0.0/8 or ::1).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}
