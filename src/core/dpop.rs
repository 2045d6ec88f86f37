//! DPoP (RFC 9449): the inputs of a proof a client signs, and the server's checks of a proof.
//!
//! **Client.** [`proof_signing_input`] builds `BASE64URL(header) '.' BASE64URL(claims)` for an
//! ES256 key (`typ: dpop+jwt`, the public `jwk`, `htm`, `htu` without query and fragment,
//! `iat`, `jti`, and `ath`/`nonce` when given); the platform signs it (WebCrypto in the
//! browser, with a non-extractable key).
//!
//! **Server.** As for tokens ([`Verifier`](crate::Verifier)), the check is split around the
//! signature primitive: [`DpopVerifier::begin`] does every check that needs no signature
//! (structure, `typ`, the algorithm, a public `jwk`, the signature's shape) and hands back a
//! [`PendingProof`] whose message and signature a primitive checks with the proof's own key;
//! [`DpopVerifier::finish`] then checks the claims (`htm`, `htu`, `iat` window, `ath`, `nonce`)
//! and the binding (`cnf.jkt` = the RFC 7638 thumbprint of the key), and only a proof that
//! passed all of that reaches the replay check on `jti` ([`UnrecordedProof::record`] with a
//! [`ReplayCache`] the caller implements). Natively [`DpopVerifier::verify`] does all of it.
//!
//! Every refusal is a [`DpopError`] with a stable code (`ERR_DPOP_*`) and the OAuth error the
//! server answers with (`invalid_dpop_proof`, `use_dpop_nonce`, `invalid_token`).

use crate::prelude::*;

use core::fmt;

use crate::core::{
    b64,
    error::{cat, decimal, find, JwtError},
};

/// The `typ` of a DPoP proof's header.
pub const DPOP_TYP: &str = "dpop+jwt";
/// Default size cap of a proof (a header with an RSA-8192 key fits).
pub const DEFAULT_MAX_PROOF_LEN: usize = 4 * 1024;
/// Default: a proof is accepted up to this many seconds after its `iat`.
pub const DEFAULT_MAX_AGE_SECS: i64 = 300;
/// Default tolerance for clocks (an `iat` up to this far in the future is accepted).
pub const DEFAULT_LEEWAY_SECS: i64 = 5;
/// The longest `max_age_secs` a verifier accepts (a proof older than a day is never fresh).
pub const MAX_MAX_AGE_SECS: i64 = 86_400;
/// The largest clock tolerance a verifier accepts (an hour).
pub const MAX_LEEWAY_SECS: i64 = 3_600;
/// Default per-key quota of live `jti`s in a replay cache: a proof lives 305 s, so a client
/// may send about 3 requests a second for five minutes (bursts of up to 1,000) before its own
/// proofs are refused; other clients are not affected.
pub const DEFAULT_PROOFS_PER_KEY: u32 = 1_000;
/// `Retry-After` for a key over its quota: a fraction of a proof's lifetime (305 s), so a
/// client that paused comes back soon after room is made.
pub const QUOTA_RETRY_AFTER_SECS: u32 = 30;
/// Longest accepted `jti`.
pub const MAX_JTI_LEN: usize = 256;

/// Why a DPoP proof (or its binding to a token) was refused. Each variant has its own
/// [`code`](DpopError::code); [`oauth_error`](DpopError::oauth_error) is what the server puts
/// in `WWW-Authenticate` or the token endpoint's `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopError {
    /// No `DPoP` header, or more than one.
    Missing,
    /// Not a compact JWS of JSON objects within the size cap (the structural error inside).
    Malformed(JwtError),
    /// The header's `typ` is not `dpop+jwt`.
    Typ,
    /// `alg` is `none`, symmetric, unknown or not in the allowed list.
    AlgNotAllowed,
    /// The header has no usable public `jwk`, or one that does not fit `alg`.
    JwkInvalid {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The header's `jwk` holds private key material.
    JwkPrivate,
    /// The signature does not verify with the header's key.
    SignatureInvalid,
    /// A required claim (`jti`, `htm`, `htu`, `iat`, or `ath` with a token) is absent or not
    /// of its type.
    ClaimMissing {
        /// The claim.
        claim: &'static str,
    },
    /// `htm` is not the request's method.
    MethodMismatch,
    /// `htu` is not the request's URL (compared without query and fragment, normalised).
    UrlMismatch,
    /// `iat` is outside the accepted window around `now`.
    IatOutOfWindow,
    /// The `jti` was seen before for this key.
    Replayed,
    /// The key has sent more live proofs than its quota (see
    /// [`DpopVerifierBuilder::proofs_per_key`]); retry once older proofs expire.
    QuotaExceeded,
    /// `ath` is not the hash of the presented access token.
    AthMismatch,
    /// The server requires a nonce and the proof has none.
    NonceMissing,
    /// The proof's nonce is not one the server currently accepts.
    NonceInvalid,
    /// The token is bound to another key (`cnf.jkt` differs from the proof key's thumbprint).
    KeyMismatch,
    /// The request described by the caller is unusable (e.g. a URL that is not http(s)).
    InvalidRequest {
        /// What is wrong.
        reason: &'static str,
    },
}

impl DpopError {
    /// A stable code for programs and the JS `Error`'s `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "ERR_DPOP_MISSING",
            Self::Malformed(_) => "ERR_DPOP_MALFORMED",
            Self::Typ => "ERR_DPOP_TYP",
            Self::AlgNotAllowed => "ERR_DPOP_ALG_NOT_ALLOWED",
            Self::JwkInvalid { .. } => "ERR_DPOP_JWK_INVALID",
            Self::JwkPrivate => "ERR_DPOP_JWK_PRIVATE",
            Self::SignatureInvalid => "ERR_DPOP_SIGNATURE",
            Self::ClaimMissing { .. } => "ERR_DPOP_CLAIM_MISSING",
            Self::MethodMismatch => "ERR_DPOP_HTM",
            Self::UrlMismatch => "ERR_DPOP_HTU",
            Self::IatOutOfWindow => "ERR_DPOP_IAT",
            Self::Replayed => "ERR_DPOP_REPLAY",
            Self::QuotaExceeded => "ERR_DPOP_QUOTA",
            Self::AthMismatch => "ERR_DPOP_ATH",
            Self::NonceMissing => "ERR_DPOP_NONCE_MISSING",
            Self::NonceInvalid => "ERR_DPOP_NONCE_INVALID",
            Self::KeyMismatch => "ERR_DPOP_KEY_MISMATCH",
            Self::InvalidRequest { .. } => "ERR_DPOP_INVALID_REQUEST",
        }
    }

    /// A short name for counters and logs (`"replay"`, `"htu"`, ...).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed(_) => "malformed",
            Self::Typ => "typ",
            Self::AlgNotAllowed => "alg",
            Self::JwkInvalid { .. } => "jwk",
            Self::JwkPrivate => "jwk_private",
            Self::SignatureInvalid => "signature",
            Self::ClaimMissing { .. } => "claim_missing",
            Self::MethodMismatch => "htm",
            Self::UrlMismatch => "htu",
            Self::IatOutOfWindow => "iat",
            Self::Replayed => "replay",
            Self::QuotaExceeded => "quota",
            Self::AthMismatch => "ath",
            Self::NonceMissing => "nonce_missing",
            Self::NonceInvalid => "nonce_invalid",
            Self::KeyMismatch => "key_mismatch",
            Self::InvalidRequest { .. } => "invalid_request",
        }
    }

    /// How long a client should wait before retrying (`Retry-After`, seconds): only for a
    /// key over its quota, whose oldest proofs expire within a proof's lifetime.
    pub fn retry_after_secs(&self) -> Option<u32> {
        match self {
            Self::QuotaExceeded => Some(QUOTA_RETRY_AFTER_SECS),
            _ => None,
        }
    }

    /// The OAuth error code (RFC 9449 §7.1, §8, §9): `use_dpop_nonce` for a missing or stale
    /// nonce, `invalid_token` for a token bound to another key, `invalid_dpop_proof` otherwise.
    pub fn oauth_error(&self) -> &'static str {
        match self {
            Self::NonceMissing | Self::NonceInvalid => "use_dpop_nonce",
            Self::KeyMismatch => "invalid_token",
            _ => "invalid_dpop_proof",
        }
    }
}

impl DpopError {
    /// The message of the error (its `Display`), built without `core::fmt` so that the npm
    /// package's wasm links no formatting machinery (`to_string()` would).
    pub fn message(&self) -> String {
        let text = match self {
            Self::Missing => "exactly one DPoP proof is required",
            Self::Malformed(inner) => return cat(&["malformed DPoP proof: ", &inner.message()]),
            Self::Typ => "the DPoP proof's typ is not dpop+jwt",
            Self::AlgNotAllowed => "the DPoP proof's alg is not allowed",
            Self::JwkInvalid { reason } => {
                return cat(&["the DPoP proof's jwk is invalid: ", reason])
            }
            Self::JwkPrivate => "the DPoP proof's jwk holds a private key",
            Self::SignatureInvalid => "the DPoP proof's signature does not verify",
            Self::ClaimMissing { claim } => {
                return cat(&["the DPoP proof lacks a valid \"", claim, "\" claim"])
            }
            Self::MethodMismatch => "the DPoP proof is for another HTTP method",
            Self::UrlMismatch => "the DPoP proof is for another URL",
            Self::IatOutOfWindow => "the DPoP proof's iat is outside the window",
            Self::Replayed => "the DPoP proof's jti was already used",
            Self::QuotaExceeded => "too many DPoP proofs from this key",
            Self::AthMismatch => "the DPoP proof is for another access token",
            Self::NonceMissing => "a DPoP nonce is required",
            Self::NonceInvalid => "the DPoP nonce is not current",
            Self::KeyMismatch => "the token is bound to another DPoP key",
            Self::InvalidRequest { reason } => return cat(&["invalid DPoP check: ", reason]),
        };
        text.to_owned()
    }
}

impl fmt::Display for DpopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for DpopError {}

/// `htu` for a URL (RFC 9449 §4.2, §4.3): scheme and host lowercased, the default port
/// dropped, an empty path made `/`, query and fragment removed. Only `http` and `https`
/// absolute URLs without user information are accepted.
///
/// ```
/// use tokenwarden::core::dpop::normalize_htu;
/// assert_eq!(
///     normalize_htu("HTTPS://API.Example.com:443/a/b?x=1#top").unwrap(),
///     "https://api.example.com/a/b"
/// );
/// ```
pub fn normalize_htu(url: &str) -> Result<String, DpopError> {
    let bad = |reason| DpopError::InvalidRequest { reason };
    let at = find(url, "://").ok_or(bad("not an absolute URL"))?;
    let (scheme, rest) = (&url[..at], &url[at + 3..]);
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return Err(bad("not an http(s) URL")),
    };
    let without_fragment = rest.split('#').next().unwrap_or_default();
    let without_query = without_fragment.split('?').next().unwrap_or_default();
    let (authority, path) = match without_query.find('/') {
        Some(at) => without_query.split_at(at),
        None => (without_query, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("a URL needs a host and no user information"));
    }
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad("a URL has no spaces or control characters"));
    }
    let authority = authority.to_ascii_lowercase();
    let authority = match authority.rsplit_once(':') {
        // An IPv6 literal's colons are inside brackets; a port follows the last `]`.
        Some((host, port)) if !port.contains(']') => {
            if port.is_empty() || port == default_port {
                host.to_owned()
            } else if port.bytes().all(|b| b.is_ascii_digit()) {
                authority.clone()
            } else {
                return Err(bad("the URL's port is not a number"));
            }
        }
        _ => authority,
    };
    Ok(cat(&[&scheme, "://", &authority, path]))
}

/// `ath`: base64url(SHA-256(access token)) (RFC 9449 §4.2).
///
/// ```
/// // RFC 9449 §7.1.
/// let ath = tokenwarden::core::dpop::access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU");
/// assert_eq!(ath, "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
/// ```
///
/// With the pure-Rust SHA-256 (natively, or with `portable`); the npm package hashes with
/// WebCrypto and links no hash crate.
#[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
pub fn access_token_hash(access_token: &str) -> String {
    use sha2::{Digest, Sha256};
    b64::encode(&Sha256::digest(access_token.as_bytes()))
}

/// What a client puts in a proof's claims (RFC 9449 §4.2).
#[derive(Clone, Copy)]
pub struct ProofInput<'a> {
    /// The request's method (`htm`), e.g. `"POST"`.
    pub method: &'a str,
    /// The request's URL; its query and fragment are dropped for `htu`.
    pub url: &'a str,
    /// Seconds since the epoch.
    pub iat: i64,
    /// A unique identifier (at least 96 random bits, base64url).
    pub jti: &'a str,
    /// [`access_token_hash`] of the access token sent with the request, if any.
    pub ath: Option<&'a str>,
    /// The server's current nonce for this origin, if one is in force.
    pub nonce: Option<&'a str>,
}

impl fmt::Debug for ProofInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofInput")
            .field("method", &self.method)
            .field("iat", &self.iat)
            .finish_non_exhaustive()
    }
}

/// `text` as a JSON string, by the core's JSON writer rather than `serde_json::to_string`: the
/// npm package links no JSON serializer (the browser's `JSON.parse` reads, this core's reader
/// checks).
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    crate::core::json::write_string(&mut out, text);
    out
}

/// The signing input of an ES256 proof, `BASE64URL(header) '.' BASE64URL(claims)`, for the
/// public key with base64url coordinates `x` and `y` (as WebCrypto exports them as a JWK).
/// The signature (IEEE P1363 `r || s`, as WebCrypto's ECDSA gives it), base64url, completes it.
pub fn proof_signing_input(x: &str, y: &str, input: &ProofInput<'_>) -> Result<String, DpopError> {
    check_p256_coordinates(x, y)?;
    let method_ok =
        !input.method.is_empty() && input.method.bytes().all(|b| b.is_ascii_alphabetic());
    if !method_ok {
        return Err(DpopError::InvalidRequest {
            reason: "not an HTTP method",
        });
    }
    if input.jti.is_empty() || input.jti.len() > MAX_JTI_LEN {
        return Err(DpopError::InvalidRequest {
            reason: "jti must be 1-256 characters",
        });
    }
    let header = cat(&[
        r#"{"typ":""#,
        DPOP_TYP,
        r#"","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":""#,
        x,
        r#"","y":""#,
        y,
        r#""}}"#,
    ]);
    let iat = match u64::try_from(input.iat) {
        Ok(iat) => decimal(iat),
        Err(_) => cat(&["-", &decimal(input.iat.unsigned_abs())]),
    };
    let mut claims = cat(&[
        r#"{"jti":"#,
        &json_string(input.jti),
        r#","htm":"#,
        &json_string(input.method),
        r#","htu":"#,
        &json_string(&normalize_htu(input.url)?),
        r#","iat":"#,
        &iat,
    ]);
    if let Some(ath) = input.ath {
        claims.push_str(r#","ath":"#);
        claims.push_str(&json_string(ath));
    }
    if let Some(nonce) = input.nonce {
        claims.push_str(r#","nonce":"#);
        claims.push_str(&json_string(nonce));
    }
    claims.push('}');
    Ok(cat(&[
        &b64::encode(header.as_bytes()),
        ".",
        &b64::encode(claims.as_bytes()),
    ]))
}

/// The JSON an RFC 7638 thumbprint of an ES256 public key hashes, for base64url coordinates
/// `x` and `y` (as WebCrypto exports them): the browser hashes it (SHA-256) into the `jkt`.
pub fn p256_thumbprint_input(x: &str, y: &str) -> Result<String, DpopError> {
    check_p256_coordinates(x, y)?;
    Ok(cat(&[
        r#"{"crv":"P-256","kty":"EC","x":""#,
        x,
        r#"","y":""#,
        y,
        r#""}"#,
    ]))
}

fn check_p256_coordinates(x: &str, y: &str) -> Result<(), DpopError> {
    for coordinate in [x, y] {
        if b64::decode(coordinate, "jwk").map_or(true, |bytes| bytes.len() != 32) {
            return Err(DpopError::JwkInvalid {
                reason: "P-256 coordinates must be 32 bytes of base64url",
            });
        }
    }
    Ok(())
}

/// Whether `challenge` (a `WWW-Authenticate` value) is RFC 9449's `use_dpop_nonce` (§9).
pub fn challenge_asks_for_nonce(challenge: Option<&str>) -> bool {
    challenge.is_some_and(|c| {
        let c = c.to_ascii_lowercase();
        c.trim_start().starts_with("dpop")
            && (find(&c, "error=\"use_dpop_nonce\"").is_some()
                || find(&c, "error=use_dpop_nonce").is_some())
    })
}

/// Whether a response asks for a (new) nonce: a token endpoint's `400` with the OAuth `error`
/// `use_dpop_nonce` (RFC 9449 §8), or a resource's `401` whose challenge says so (§9).
pub fn response_asks_for_nonce(status: u16, challenge: Option<&str>, error: Option<&str>) -> bool {
    match status {
        400 => error == Some("use_dpop_nonce"),
        401 => challenge_asks_for_nonce(challenge),
        _ => false,
    }
}

/// The most origins whose nonce a [`NonceBook`] remembers (the oldest is forgotten first).
pub const MAX_NONCE_ORIGINS: usize = 16;
/// The longest nonce remembered.
pub const MAX_NONCE_LEN: usize = 512;

/// The `DPoP-Nonce` last received from each origin (RFC 9449 §8, §9): which nonce a proof for a
/// URL carries.
#[derive(Default, Clone)]
pub struct NonceBook {
    nonces: Vec<(String, String)>,
}

impl fmt::Debug for NonceBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceBook")
            .field("origins", &self.nonces.len())
            .finish()
    }
}

/// The origin (`scheme://host[:port]`, as [`normalize_htu`] writes it) of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let htu = normalize_htu(url).ok()?;
    let after_scheme = find(&htu, "://")? + 3;
    let end = htu[after_scheme..]
        .find('/')
        .map_or(htu.len(), |at| after_scheme + at);
    Some(htu[..end].to_owned())
}

impl NonceBook {
    /// The nonce last received from `url`'s origin.
    pub fn nonce_for(&self, url: &str) -> Option<&str> {
        let origin = origin_of(url)?;
        self.nonces
            .iter()
            .find(|(o, _)| *o == origin)
            .map(|(_, n)| n.as_str())
    }

    /// Remembers `nonce` for `url`'s origin (an empty or oversized nonce is ignored).
    pub fn remember(&mut self, url: &str, nonce: &str) {
        let Some(origin) = origin_of(url) else {
            return;
        };
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
            return;
        }
        self.nonces.retain(|(o, _)| *o != origin);
        if self.nonces.len() >= MAX_NONCE_ORIGINS {
            self.nonces.remove(0);
        }
        self.nonces.push((origin, nonce.to_owned()));
    }

    /// Forgets every nonce (the session ended).
    pub fn clear(&mut self) {
        self.nonces.clear();
    }
}

#[cfg(feature = "dpop-verify")]
mod nonce;
#[cfg(feature = "dpop-verify")]
mod verifier;
#[cfg(feature = "dpop-verify")]
pub use nonce::*;
#[cfg(feature = "dpop-verify")]
pub use verifier::*;

#[cfg(all(test, feature = "dpop-verify"))]
mod tests;
