//! Access tokens from an external OAuth 2.0 / OpenID Connect provider (`--trust-issuer` with
//! `--trust-audience`): the API accepts the provider's JWT access tokens (RFC 9068, `typ`
//! `at+jwt`) for that audience, verified by tokenwarden's core against the provider's JWKS.
//!
//! The provider's metadata is fetched and checked by the core (`issuer` exact, endpoints https
//! or loopback http) the first time a token of that issuer arrives, so the server may start
//! before the provider; the JWKS is fetched again, at most every 30 seconds, when a token names
//! a key it does not hold (the provider rotated its keys).

use std::time::{Duration, Instant};

use tokenwarden::core::oauth::{discovery_urls, ProviderMetadata};
use tokenwarden::{Algorithm, JwkSet, KeyOptions, Verified, Verifier};

/// How long a fetched JWKS is trusted before a key miss may fetch it again.
const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);

/// An external issuer whose access tokens the API accepts.
pub struct TrustedIssuer {
    /// The issuer identifier, exactly as its tokens' `iss`.
    pub issuer: String,
    verifier: Verifier,
    client: reqwest::Client,
    keys: tokio::sync::Mutex<Option<(JwkSet, Instant)>>,
}

impl TrustedIssuer {
    /// Trusts `issuer`'s access tokens for `audience` (asymmetric algorithms only).
    pub fn new(issuer: String, audience: &str) -> Result<Self, String> {
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
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("--trust-issuer: {e}"))?;
        Ok(Self {
            issuer,
            verifier,
            client,
            keys: tokio::sync::Mutex::new(None),
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

    /// Verifies `token` at `now` (seconds). Errors are the core's codes; `ERR_JWKS_UNAVAILABLE`
    /// when the provider's keys cannot be fetched.
    pub async fn verify(&self, token: &str, now: i64) -> Result<Verified, &'static str> {
        let mut keys = self.keys.lock().await;
        if keys.is_none() {
            *keys = Some((self.fetch_keys().await?, Instant::now()));
        }
        let (set, fetched) = keys.as_ref().ok_or("ERR_JWKS_UNAVAILABLE")?;
        match self.verifier.verify(token, set, now) {
            Err(e)
                if e.code() == "ERR_JWKS_NO_MATCHING_KEY"
                    && fetched.elapsed() >= REFETCH_COOLDOWN =>
            {
                let set = self.fetch_keys().await?;
                let result = self.verifier.verify(token, &set, now).map_err(|e| e.code());
                *keys = Some((set, Instant::now()));
                result
            }
            other => other.map_err(|e| e.code()),
        }
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
            eprintln!("trusted issuer: GET {url}: {e}");
            "ERR_JWKS_UNAVAILABLE"
        })?;
        if !response.status().is_success() {
            eprintln!("trusted issuer: GET {url}: status {}", response.status());
            return Err("ERR_JWKS_UNAVAILABLE");
        }
        response.text().await.map_err(|_| "ERR_JWKS_UNAVAILABLE")
    }
}
