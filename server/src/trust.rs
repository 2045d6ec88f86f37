//! Access tokens from an external OAuth 2.0 / OpenID Connect provider (`--trust-issuer` with
//! `--trust-audience`): the API accepts the provider's JWT access tokens (RFC 9068, `typ`
//! `at+jwt`) for that audience, verified by tokenwarden's core against the provider's JWKS.
//!
//! The provider's metadata is fetched and checked by the core (`issuer` exact, endpoints https
//! or loopback http) the first time a token of that issuer arrives, so the server may start
//! before the provider; the JWKS is fetched again when a token names a key it does not hold
//! (the provider rotated its keys), on the core's refetch policy ([`KeyRefetch`]): one fetch in
//! flight, at most every 30 seconds, backing off after failures, outside any lock that a
//! request with a known key would wait on.
//!
//! The provider is reached over https (rustls, the platform's root certificates, plus the
//! authorities of `--trust-ca` for a private CA); plain http only to a loopback host (the core's
//! endpoint rule, applied to the issuer at start-up and to every URL of its metadata).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokenwarden::core::oauth::{discovery_urls, ProviderMetadata};
use tokenwarden::core::refetch::{KeyMiss, KeyRefetch};
use tokenwarden::{Algorithm, JwkSet, KeyOptions, Verified, Verifier};

/// The provider's keys as last fetched, and when to fetch them again.
#[derive(Default)]
struct Keys {
    set: Option<Arc<JwkSet>>,
    refetch: KeyRefetch,
}

/// An external issuer whose access tokens the API accepts.
pub struct TrustedIssuer {
    /// The issuer identifier, exactly as its tokens' `iss`.
    pub issuer: String,
    verifier: Verifier,
    client: reqwest::Client,
    /// Never held across an `.await`: a fetch runs outside it, so a slow provider delays only
    /// the requests whose key is missing, and those at most [`KeyRefetch::MISS_WAIT_MS`].
    keys: Mutex<Keys>,
    /// Wakes the requests waiting for the fetch in flight.
    fetched: tokio::sync::Notify,
}

impl TrustedIssuer {
    /// Trusts `issuer`'s access tokens for `audience` (asymmetric algorithms only); `ca` is a
    /// PEM file of extra certificate authorities for the provider's https certificate.
    pub fn new(issuer: String, audience: &str, ca: Option<&Path>) -> Result<Self, String> {
        discovery_urls(&issuer).map_err(|e| format!("--trust-issuer: {e}"))?;
        let verifier = Verifier::builder()
            .algorithms([
                Algorithm::Es256,
                Algorithm::EdDsa,
                Algorithm::Rs256,
                Algorithm::Ps256,
            ])
            .issuer(issuer.as_str())
            .audience(audience)
            .typ("at+jwt")
            .leeway_secs(0)
            .build();
        let mut client = reqwest::Client::builder()
            .timeout(Duration::from_millis(KeyRefetch::FETCH_TIMEOUT_MS))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = ca {
            let pem =
                std::fs::read(path).map_err(|e| format!("--trust-ca {}: {e}", path.display()))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("--trust-ca {}: {e}", path.display()))?;
            if certificates.is_empty() {
                return Err(format!(
                    "--trust-ca {}: no PEM certificate in it",
                    path.display()
                ));
            }
            for certificate in certificates {
                client = client.add_root_certificate(certificate);
            }
        }
        let client = client.build().map_err(|e| format!("--trust-issuer: {e}"))?;
        Ok(Self {
            issuer,
            verifier,
            client,
            keys: Mutex::new(Keys::default()),
            fetched: tokio::sync::Notify::new(),
        })
    }

    /// Whether `token` names this issuer (its unverified `iss`, which only picks the verifier:
    /// [`verify`](Self::verify) pins the issuer, its keys and audience).
    pub fn issued(&self, token: &str) -> bool {
        tokenwarden::decode_unverified(token)
            .ok()
            .and_then(|t| t.claims.iss)
            .is_some_and(|iss| iss == self.issuer)
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Verifies `token` at `now` (seconds). Errors are the core's codes; `ERR_JWKS_UNAVAILABLE`
    /// when the provider's keys cannot be fetched. A token whose key is held is verified at
    /// once; one naming an unknown key may start a refetch (see [`KeyRefetch`]) and waits for
    /// it at most [`KeyRefetch::MISS_WAIT_MS`].
    pub async fn verify(self: &Arc<Self>, token: &str, now: i64) -> Result<Verified, &'static str> {
        let held = self.keys().set.clone();
        if let Some(set) = &held {
            match self.verifier.verify(token, set, now) {
                Err(e) if e.code() == "ERR_JWKS_NO_MATCHING_KEY" => {}
                other => return other.map_err(|e| e.code()),
            }
        }
        // A miss: start or join a fetch, or answer with the keys at hand.
        let waiting = self.fetched.notified();
        tokio::pin!(waiting);
        waiting.as_mut().enable();
        let now_ms = now.saturating_mul(1000);
        let decision = self.keys().refetch.miss(now_ms);
        match decision {
            KeyMiss::Refuse => {}
            KeyMiss::Fetch | KeyMiss::Join => {
                if decision == KeyMiss::Fetch {
                    let this = Arc::clone(self);
                    tokio::spawn(async move { this.refetch(now_ms).await });
                }
                let wait = Duration::from_millis(KeyRefetch::MISS_WAIT_MS);
                let _ = tokio::time::timeout(wait, waiting).await;
            }
        }
        let set = self.keys().set.clone().ok_or("ERR_JWKS_UNAVAILABLE")?;
        self.verifier.verify(token, &set, now).map_err(|e| e.code())
    }

    /// The one fetch in flight, started at `started_ms` (the server clock): installs the keys,
    /// tells the machine when it ended, wakes the waiters.
    async fn refetch(&self, started_ms: i64) {
        let started = Instant::now();
        let fetched = self.fetch_keys().await;
        {
            let mut keys = self.keys();
            let took = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            let now = started_ms.saturating_add(took);
            keys.refetch.fetched(now, fetched.is_ok());
            if let Ok(set) = fetched {
                keys.set = Some(Arc::new(set));
            }
        }
        self.fetched.notify_waiters();
    }

    async fn fetch_keys(&self) -> Result<JwkSet, &'static str> {
        let unavailable = "ERR_JWKS_UNAVAILABLE";
        let [discovery, _] = discovery_urls(&self.issuer).map_err(|_| unavailable)?;
        let document = self.get(&discovery).await?;
        let metadata = ProviderMetadata::parse(&document, &self.issuer).map_err(|e| {
            eprintln!("trusted issuer: metadata refused: {e}");
            unavailable
        })?;
        let jwks_uri = metadata.jwks_uri.ok_or(unavailable)?;
        let jwks = self.get(&jwks_uri).await?;
        JwkSet::from_json(&jwks, &KeyOptions::default()).map_err(|e| {
            eprintln!("trusted issuer: JWKS refused: {e}");
            unavailable
        })
    }

    async fn get(&self, url: &str) -> Result<String, &'static str> {
        let response = self.client.get(url).send().await.map_err(|e| {
            eprintln!("trusted issuer: GET {url}: {}", chain(&e));
            "ERR_JWKS_UNAVAILABLE"
        })?;
        if !response.status().is_success() {
            eprintln!("trusted issuer: GET {url}: status {}", response.status());
            return Err("ERR_JWKS_UNAVAILABLE");
        }
        response.text().await.map_err(|_| "ERR_JWKS_UNAVAILABLE")
    }
}

/// An error with its causes (reqwest's own text is "error sending request"; the cause says
/// why, e.g. `invalid peer certificate: UnknownIssuer`), and what to do about a certificate.
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.contains("certificate") {
        text.push_str(" (is the provider's CA in the platform's roots or in --trust-ca?)");
    }
    text
}
