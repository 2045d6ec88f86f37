//! Command-line flags.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::config::{
    parse_origin, Config, RefreshTransport, SigningAlg, StoreSpec, TrustProxy, UserSpec,
};

/// Reference auth server for tokenwarden.
#[derive(Parser, Debug)]
#[command(name = "tokenwarden-server", version, about)]
pub struct Cli {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port (0 = ephemeral; the bound address is printed as `listening on http://ADDR`).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Access-token issuer (`iss`) [default: http://<bind>:<port>].
    #[arg(long)]
    pub issuer: Option<String>,
    /// Access-token audience (`aud`).
    #[arg(long, default_value = "tokenwarden-demo")]
    pub audience: String,
    /// Also accept the JWT access tokens (RFC 9068) of this OAuth 2.0 / OpenID Connect issuer
    /// on /api/*, verified against its JWKS (found through its discovery document); needs
    /// --trust-audience.
    #[arg(long, value_name = "URL", requires = "trust_audience")]
    pub trust_issuer: Option<String>,
    /// The audience (`aud`, e.g. the API's resource indicator) the trusted issuer's access
    /// tokens must carry.
    #[arg(long, value_name = "AUD", requires = "trust_issuer")]
    pub trust_audience: Option<String>,
    /// PEM file of the certificate authorities the trusted issuer's https certificate may chain
    /// to (a private CA), in addition to the platform's roots.
    #[arg(long, value_name = "PATH", requires = "trust_issuer")]
    pub trust_ca: Option<std::path::PathBuf>,
    /// Access-token lifetime, seconds.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub access_ttl: u64,
    /// Absolute refresh-token (family) lifetime, seconds.
    #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=31_622_400))]
    pub refresh_ttl: u64,
    /// Idle refresh-token lifetime (max time between two uses), seconds.
    #[arg(long, default_value_t = 14_400, value_parser = clap::value_parser!(u64).range(1..=31_622_400))]
    pub refresh_idle_ttl: u64,
    /// Grace window (ms) in which re-presenting a just-rotated refresh token is not reuse.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub reuse_grace_ms: u64,
    /// Refresh-token transport: `cookie` (HttpOnly cookie on /auth) or `body` (JSON field).
    #[arg(long, default_value = "cookie", value_parser = RefreshTransport::parse)]
    pub refresh_transport: RefreshTransport,
    /// Signing algorithm: es256, eddsa or rs256.
    #[arg(long, default_value = "es256", value_parser = SigningAlg::parse)]
    pub alg: SigningAlg,
    /// Rotate the signing key every SECS seconds (old public keys stay in the JWKS).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_keys: Option<u64>,
    /// Allowed CORS origin (exact, e.g. http://localhost:5173); repeatable.
    #[arg(long = "allow-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    pub allow_origins: Vec<String>,
    /// TEST ONLY: allow any http://127.0.0.1:<port> / http://localhost:<port> origin (the
    /// wasm-bindgen-test runner serves its page from a random port). Never use in production.
    #[arg(long)]
    pub allow_any_loopback_origin: bool,
    /// Demo user as name:password; repeatable [default: demo:demo-password].
    #[arg(long = "user", value_name = "NAME:PASSWORD", value_parser = UserSpec::parse)]
    pub users: Vec<UserSpec>,
    /// File of users, one `name:password` per line (optionally TAB then scopes).
    #[arg(long, value_name = "PATH")]
    pub users_file: Option<PathBuf>,
    /// TEST ONLY: enable the /__test/* endpoints (faults, clock, revoke, reset, stats).
    #[arg(long)]
    pub test_hooks: bool,
    /// Directory served at /.
    #[arg(long, default_value = "www")]
    pub www_dir: PathBuf,
    /// Directory served at /pkg/.
    #[arg(long, default_value = "pkg")]
    pub pkg_dir: PathBuf,
    /// Directory served at /examples/ (scripts/build-example-apps.sh builds target/examples/).
    #[arg(long, value_name = "PATH")]
    pub examples_dir: Option<PathBuf>,
    /// Cookies' `Secure` attribute and `__Host-` names: auto (= always; browsers keep `Secure`
    /// cookies from http://localhost and 127.0.0.1), always, never (plain http off loopback:
    /// unprefixed `tw_refresh`/`tw_session`, open to cookie tossing from sibling subdomains).
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub cookie_secure: String,
    /// Where refresh families, the jti blocklist and the login throttle live: `memory`,
    /// `sqlite:PATH` (one instance, survives restarts) or `redis://HOST:PORT[/DB]` (shared by
    /// several instances).
    #[arg(long, default_value = "memory", value_parser = StoreSpec::parse)]
    pub store: StoreSpec,
    /// Prefix of every Redis key (several deployments can share one Redis).
    #[arg(long, default_value = crate::store::DEFAULT_REDIS_PREFIX, value_parser = parse_prefix)]
    pub redis_prefix: String,
    /// Signing key: a private JWK, a JWK Set (the first key signs, the others stay published
    /// for tokens they signed) or a PKCS#8 PEM. Several instances given the same file sign and
    /// publish the same keys [default: a key generated at start].
    #[arg(long, value_name = "PATH", conflicts_with = "rotate_keys")]
    pub signing_key: Option<PathBuf>,
    /// Extra accepted `Host` header (`host[:port]`), e.g. the public name behind a proxy;
    /// repeatable. The issuer's host and the bound address are always accepted.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Seconds a client may take to send a request body.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub body_timeout: u64,
    /// Connections served at once (more get 503 and are closed).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub max_connections: u64,
    /// Behind reverse proxies: key the login throttle on the client address the nearest HOPS
    /// proxies append to this header (`x-forwarded-for` or `forwarded`, e.g.
    /// `x-forwarded-for:1`) instead of the TCP peer. Off by default: the headers are ignored.
    #[arg(long, value_name = "HEADER[:HOPS]", value_parser = TrustProxy::parse)]
    pub trust_proxy: Option<TrustProxy>,
    /// Login attempts allowed per user name and client address before each further one waits.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub login_max_failures: u32,
    /// Login attempts allowed per client address, across user names, before each further one
    /// waits (raise it if many users share one address, e.g. a NAT without --trust-proxy).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub login_ip_max_failures: u32,
    /// Do not log one line per request on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// DPoP (RFC 9449): issue DPoP-bound tokens (`cnf.jkt`), bind refresh families to the key,
    /// and require proofs on `/api/*`, login and refresh.
    #[arg(long)]
    pub dpop: bool,
    /// With `--dpop` (implied): require the server's `DPoP-Nonce` in every proof. Nonces are
    /// stateless (a MAC of the time window): instances behind one issuer accept each other's
    /// when they share the nonce key (`--dpop-nonce-key`, or else the `--signing-key` file).
    #[arg(long)]
    pub dpop_nonce: bool,
    /// With `--dpop-nonce`: a file of at least 32 secret bytes every instance shares, from
    /// which the nonce key is derived (default: derived from the `--signing-key` file).
    #[arg(long, value_name = "PATH")]
    pub dpop_nonce_key: Option<std::path::PathBuf>,
    /// With `--dpop`: live proofs one client key may have in the replay cache (a proof lives
    /// 305 s); past it that client gets `429`, the others are not affected.
    #[arg(long, default_value_t = tokenwarden::core::dpop::DEFAULT_PROOFS_PER_KEY,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub dpop_quota: u32,
}

impl Cli {
    /// Turns the flags into a [`Config`] (reads the users file).
    pub fn into_config(self) -> Result<Config, String> {
        let mut users = self.users;
        if let Some(path) = &self.users_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read users file {}: {e}", path.display()))?;
            users.extend(UserSpec::parse_file(&text)?);
        }
        let defaults = Config::default();
        if users.is_empty() {
            users = defaults.users.clone();
        }
        if let Some(iss) = &self.issuer {
            if iss.is_empty() {
                return Err("--issuer must not be empty".into());
            }
        }
        Ok(Config {
            issuer: self.issuer,
            audience: self.audience,
            trust_issuer: self.trust_issuer.zip(self.trust_audience),
            trust_ca: self.trust_ca,
            access_ttl_secs: self.access_ttl,
            refresh_ttl_secs: self.refresh_ttl,
            refresh_idle_secs: self.refresh_idle_ttl,
            reuse_grace_ms: self.reuse_grace_ms,
            refresh_transport: self.refresh_transport,
            alg: self.alg,
            rotate_keys_secs: self.rotate_keys,
            allow_origins: self.allow_origins,
            allow_any_loopback_origin: self.allow_any_loopback_origin,
            test_hooks: self.test_hooks,
            users,
            password_cost: defaults.password_cost,
            www_dir: self.www_dir,
            pkg_dir: self.pkg_dir,
            examples_dir: self.examples_dir,
            cookie_secure: match self.cookie_secure.as_str() {
                "always" => Some(true),
                "never" => Some(false),
                _ => None,
            },
            log_requests: !self.quiet,
            login_max_failures: self.login_max_failures,
            login_ip_max_failures: self.login_ip_max_failures,
            trust_proxy: self.trust_proxy,
            store: match self.store {
                StoreSpec::Redis { url, .. } => StoreSpec::Redis {
                    url,
                    prefix: self.redis_prefix,
                },
                other => other,
            },
            signing_key: self.signing_key,
            allow_hosts: self.allow_hosts,
            body_timeout: std::time::Duration::from_secs(self.body_timeout),
            max_connections: self.max_connections as usize,
            dpop: self.dpop || self.dpop_nonce,
            dpop_nonce: self.dpop_nonce,
            dpop_nonce_key: self.dpop_nonce_key,
            dpop_quota: self.dpop_quota,
        })
    }
}

fn parse_prefix(s: &str) -> Result<String, String> {
    if s.is_empty()
        || s.len() > 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err("a Redis prefix is 1-64 characters of A-Z a-z 0-9 - _ .".into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ForwardedHeader;

    #[test]
    fn proxy_and_throttle_flags() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from([&["tokenwarden-server"][..], args].concat())
                .map_err(|e| e.to_string())
                .and_then(Cli::into_config)
        };
        let c = parse(&[]).unwrap();
        assert_eq!(c.trust_proxy, None, "off by default");
        assert_eq!((c.login_max_failures, c.login_ip_max_failures), (5, 20));
        let c = parse(&[
            "--trust-proxy",
            "forwarded:2",
            "--login-max-failures",
            "8",
            "--login-ip-max-failures",
            "500",
        ])
        .unwrap();
        let proxy = c.trust_proxy.unwrap();
        assert_eq!((proxy.header, proxy.hops), (ForwardedHeader::Forwarded, 2));
        assert_eq!((c.login_max_failures, c.login_ip_max_failures), (8, 500));
        assert!(parse(&["--trust-proxy", "x-real-ip"]).is_err());
        assert!(parse(&["--login-ip-max-failures", "0"]).is_err());
    }
}
