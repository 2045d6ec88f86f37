//! The server's half of DPoP: checking a proof against the request, split around the signature
//! primitive (see the parent module).

use crate::prelude::*;

use alloc::collections::BTreeMap;
use core::fmt;

use super::{
    normalize_htu, DpopError, DEFAULT_LEEWAY_SECS, DEFAULT_MAX_AGE_SECS, DEFAULT_MAX_PROOF_LEN,
    DEFAULT_PROOFS_PER_KEY, DPOP_TYP, MAX_JTI_LEN, MAX_LEEWAY_SECS, MAX_MAX_AGE_SECS,
};
use crate::core::{
    b64,
    decode::{self, DecodeOptions},
    error::JwtError,
    json::{Map, Value},
    jwk::{JwkSet, KeyOptions, KeyParams},
    verify::{Algorithm, Verifier},
};

/// The RFC 7638 thumbprint of a public key (base64url of SHA-256 of [`thumbprint_input`]): the
/// `jkt` a DPoP-bound token carries in `cnf`. With the pure-Rust SHA-256 (natively, or with
/// `portable`).
#[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
pub fn thumbprint(params: &KeyParams) -> Result<String, DpopError> {
    use sha2::{Digest, Sha256};
    Ok(b64::encode(&Sha256::digest(
        thumbprint_input(params)?.as_bytes(),
    )))
}

/// The JSON an RFC 7638 thumbprint hashes: the key's required members in lexicographic order.
pub fn thumbprint_input(params: &KeyParams) -> Result<String, DpopError> {
    let canonical = match params {
        KeyParams::EcP256 { x, y } => format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            b64::encode(x),
            b64::encode(y)
        ),
        KeyParams::Ed25519(x) => format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            b64::encode(x)
        ),
        KeyParams::Rsa { n, e } => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            b64::encode(e),
            b64::encode(n)
        ),
        _ => {
            return Err(DpopError::JwkInvalid {
                reason: "not an asymmetric public key",
            })
        }
    };
    Ok(canonical)
}

/// The request a proof must match, as the server received it.
#[derive(Clone, Copy, Default)]
pub struct ProofRequest<'a> {
    /// The request's method, exactly (`htm` is compared case-sensitively).
    pub method: &'a str,
    /// The URL the server is reachable at for this request (its public URL, not a proxy's
    /// internal one); query and fragment are ignored.
    pub url: &'a str,
    /// The access token presented with `Authorization: DPoP`, if any: `ath` must hash it.
    pub access_token: Option<&'a str>,
    /// The nonces the server accepts now; empty means no nonce is required.
    pub nonces: &'a [&'a str],
    /// The thumbprint the token is bound to (`cnf.jkt`), or the refresh token's family key.
    pub jkt: Option<&'a str>,
}

impl fmt::Debug for ProofRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The access token and nonces stay out of logs.
        f.debug_struct("ProofRequest")
            .field("method", &self.method)
            .field("jkt", &self.jkt)
            .finish_non_exhaustive()
    }
}

/// What a replay cache answered for one proof's `jti`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofRecord {
    /// Not seen before: recorded now.
    Fresh,
    /// Already recorded for this key and not expired.
    Replayed,
    /// The key already has its quota of live `jti`s: nothing recorded.
    OverQuota,
}

/// Remembers `jti`s of accepted proofs until they expire. Implement it over the server's
/// store (the reference server does, for memory, SQLite and Redis); [`MemoryReplayCache`]
/// serves one process.
pub trait ReplayCache {
    /// Records `jti` for the key `jkt` until `expires_at` (seconds since the epoch), unless it
    /// is already recorded and unexpired at `now` ([`ProofRecord::Replayed`]) or `jkt`
    /// already has `quota` unexpired `jti`s ([`ProofRecord::OverQuota`]).
    fn record(
        &mut self,
        jkt: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
        quota: u32,
    ) -> ProofRecord;
}

/// A bounded in-memory [`ReplayCache`]: expired entries are dropped as new ones arrive; each
/// key holds at most its quota of live `jti`s, so one client's flood fills only its own share;
/// when the whole cache is full of live entries it refuses new proofs (it never forgets a live
/// `jti`).
#[derive(Debug, Default)]
pub struct MemoryReplayCache {
    /// Per key: `jti` -> until when it is remembered.
    seen: BTreeMap<String, BTreeMap<String, i64>>,
    len: usize,
    capacity: usize,
}

impl MemoryReplayCache {
    /// A cache holding at most `capacity` live `jti`s in all.
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: BTreeMap::new(),
            len: 0,
            capacity,
        }
    }

    fn sweep(&mut self, now: i64) {
        let mut len = 0;
        self.seen.retain(|_, jtis| {
            jtis.retain(|_, until| *until >= now);
            len += jtis.len();
            !jtis.is_empty()
        });
        self.len = len;
    }
}

impl ReplayCache for MemoryReplayCache {
    fn record(
        &mut self,
        jkt: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
        quota: u32,
    ) -> ProofRecord {
        if self.len >= self.capacity {
            self.sweep(now);
        }
        let jtis = self.seen.entry(jkt.to_owned()).or_default();
        if jtis.get(jti).is_some_and(|&until| until >= now) {
            return ProofRecord::Replayed;
        }
        let quota = usize::try_from(quota).unwrap_or(usize::MAX);
        if jtis.len() >= quota {
            let before = jtis.len();
            jtis.retain(|_, until| *until >= now);
            self.len -= before - jtis.len();
            if jtis.len() >= quota {
                return ProofRecord::OverQuota;
            }
        }
        if self.len >= self.capacity {
            return ProofRecord::OverQuota;
        }
        if jtis.insert(jti.to_owned(), expires_at).is_none() {
            self.len += 1;
        }
        ProofRecord::Fresh
    }
}

/// Checks DPoP proofs. Build one with [`DpopVerifier::builder`] or use the default.
#[derive(Debug, Clone)]
pub struct DpopVerifier {
    algorithms: Vec<Algorithm>,
    max_age_secs: i64,
    leeway_secs: i64,
    max_len: usize,
    proofs_per_key: u32,
}

impl Default for DpopVerifier {
    fn default() -> Self {
        Self::builder().build()
    }
}

/// Builder for [`DpopVerifier`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DpopVerifierBuilder(DpopVerifier);

impl DpopVerifierBuilder {
    /// The accepted algorithms (default: every compiled-in asymmetric one). Symmetric
    /// algorithms are never accepted for proofs.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.0.algorithms = algorithms
            .into_iter()
            .filter(|alg| !matches!(alg, Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512))
            .collect();
        self
    }

    /// How long after its `iat` a proof is accepted (default 300 s, clamped to 1 s..1 day).
    pub fn max_age_secs(mut self, secs: i64) -> Self {
        self.0.max_age_secs = secs.clamp(1, MAX_MAX_AGE_SECS);
        self
    }

    /// Clock tolerance (default 5 s, clamped to 0..=1 hour).
    pub fn leeway_secs(mut self, secs: i64) -> Self {
        self.0.leeway_secs = secs.clamp(0, MAX_LEEWAY_SECS);
        self
    }

    /// Size cap of a proof in bytes (default 4 KiB).
    pub fn max_len(mut self, len: usize) -> Self {
        self.0.max_len = len;
        self
    }

    /// How many live `jti`s one key may have in the replay cache (default
    /// [`DEFAULT_PROOFS_PER_KEY`], at least 1): past it the key's proofs are refused with
    /// [`DpopError::QuotaExceeded`] until its older ones expire, so a client that floods
    /// the server spends only its own share of the cache.
    pub fn proofs_per_key(mut self, quota: u32) -> Self {
        self.0.proofs_per_key = quota.max(1);
        self
    }

    /// The verifier.
    pub fn build(self) -> DpopVerifier {
        self.0
    }
}

/// A proof that passed every check that needs no signature, waiting for a primitive's verdict
/// on [`message`](PendingProof::message) and [`signature`](PendingProof::signature) under the
/// key [`keys`](PendingProof::keys) holds (the proof's own `jwk`). Nothing in it is trusted yet.
pub struct PendingProof<'p> {
    keys: JwkSet,
    alg: Algorithm,
    signing_input: &'p str,
    signature: Vec<u8>,
    claims: Map,
    iat: Option<i64>,
    thumbprint_input: String,
    now: i64,
}

impl fmt::Debug for PendingProof<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingProof")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl PendingProof<'_> {
    /// The algorithm to verify with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The proof's key, as a set of one (index 0).
    pub fn keys(&self) -> &JwkSet {
        &self.keys
    }

    /// What the proof key's RFC 7638 thumbprint hashes: the primitive's SHA-256 of it,
    /// base64url, is [`ProofHashes::jkt`].
    pub fn thumbprint_input(&self) -> &str {
        &self.thumbprint_input
    }

    /// The signed bytes.
    pub fn message(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The signature bytes, of the length the algorithm requires.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
}

/// The SHA-256 digests (base64url) a check needs, computed by the platform: natively the
/// pure-Rust SHA-256, in the npm package WebCrypto's `digest`.
#[derive(Debug, Clone, Copy)]
pub struct ProofHashes<'a> {
    /// Of [`PendingProof::thumbprint_input`]: the proof key's RFC 7638 thumbprint.
    pub jkt: &'a str,
    /// Of the access token presented ([`ProofRequest::access_token`]), when there is one.
    pub ath: Option<&'a str>,
}

/// A proof whose signature, claims and binding are valid, before its `jti` is recorded:
/// [`record`](UnrecordedProof::record) it in a [`ReplayCache`] (or, with an asynchronous store,
/// ask the store and call [`conclude`](UnrecordedProof::conclude) with its answer).
#[derive(Debug)]
#[must_use]
pub struct UnrecordedProof {
    proof: VerifiedProof,
    now: i64,
    quota: u32,
}

impl UnrecordedProof {
    /// The `jti` to record.
    pub fn jti(&self) -> &str {
        &self.proof.jti
    }

    /// The key the `jti` is recorded under.
    pub fn jkt(&self) -> &str {
        &self.proof.jkt
    }

    /// Until when the `jti` must be remembered: after that, `iat` is out of the window anyway.
    pub fn expires_at(&self) -> i64 {
        self.proof.replay_until
    }

    /// The check's time (seconds since the epoch): entries that expired before it are gone.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// How many live `jti`s the key may have, this one included ([`u32::MAX`]: no quota).
    pub fn quota(&self) -> u32 {
        self.quota
    }

    /// Lifts the per-key quota for this proof: for a request that has already spent a
    /// one-time credential (a rotated refresh token), where refusing the proof would lose the
    /// successor. Its `jti` is still recorded, and a replay still refused.
    pub fn exempt_from_quota(mut self) -> Self {
        self.quota = u32::MAX;
        self
    }

    /// Records the `jti`; a `jti` seen before is [`DpopError::Replayed`], one past the key's
    /// quota [`DpopError::QuotaExceeded`].
    pub fn record(self, cache: &mut dyn ReplayCache) -> Result<VerifiedProof, DpopError> {
        let record = cache.record(
            &self.proof.jkt,
            &self.proof.jti,
            self.proof.replay_until,
            self.now,
            self.quota,
        );
        self.settle(record)
    }

    /// Concludes with a store's answer (see [`ReplayCache::record`]).
    pub fn settle(self, record: ProofRecord) -> Result<VerifiedProof, DpopError> {
        match record {
            ProofRecord::Fresh => Ok(self.proof),
            ProofRecord::Replayed => Err(DpopError::Replayed),
            ProofRecord::OverQuota => Err(DpopError::QuotaExceeded),
        }
    }

    /// Concludes with a store's yes/no answer: `fresh` is `true` when the `jti` was not seen
    /// before (a store without quotas).
    pub fn conclude(self, fresh: bool) -> Result<VerifiedProof, DpopError> {
        self.settle(if fresh {
            ProofRecord::Fresh
        } else {
            ProofRecord::Replayed
        })
    }
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The thumbprint of the proof's key: what a new token's `cnf.jkt` is bound to.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: i64,
    /// The algorithm it was signed with.
    pub alg: Algorithm,
    replay_until: i64,
}

impl DpopVerifier {
    /// A builder with the defaults: every compiled-in asymmetric algorithm, a 300 s window
    /// after `iat`, 5 s leeway, a 4 KiB size cap.
    pub fn builder() -> DpopVerifierBuilder {
        DpopVerifierBuilder(DpopVerifier {
            algorithms: Algorithm::ALL
                .into_iter()
                .filter(|alg| {
                    alg.is_compiled()
                        && !matches!(alg, Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512)
                })
                .collect(),
            max_age_secs: DEFAULT_MAX_AGE_SECS,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            max_len: DEFAULT_MAX_PROOF_LEN,
            proofs_per_key: DEFAULT_PROOFS_PER_KEY,
        })
    }

    /// Every check of `proof` that needs no signature: size and structure, `typ`, `alg`, the
    /// header's public `jwk`, the signature's shape. `now` is seconds since the epoch.
    pub fn begin<'p>(&self, proof: &'p str, now: i64) -> Result<PendingProof<'p>, DpopError> {
        if !(0..=crate::core::claims::MAX_NUMERIC_DATE).contains(&now) {
            return Err(DpopError::InvalidRequest {
                reason: "the current date is out of range",
            });
        }
        let parts = decode::split_jws(
            proof,
            &DecodeOptions {
                max_len: self.max_len,
            },
        )
        .map_err(DpopError::Malformed)?;
        let mut header = parts.header;
        if header.typ.as_deref() != Some(DPOP_TYP) {
            return Err(DpopError::Typ);
        }
        let alg = Algorithm::from_name(&header.alg)
            .filter(|alg| alg.is_compiled() && self.algorithms.contains(alg))
            .ok_or(DpopError::AlgNotAllowed)?;
        let Some(Value::Object(jwk)) = header.extra.remove("jwk") else {
            return Err(DpopError::JwkInvalid {
                reason: "the header needs a \"jwk\" object",
            });
        };
        let keys = import_public_jwk(jwk)?;
        let key = &keys.keys()[0];
        let verifier = Verifier::builder().algorithms([alg]).build();
        verifier
            .raw_signature_policy(alg.name(), &keys, &parts.signature)
            .map_err(|err| match err {
                JwtError::KeyAlgMismatch { .. } | JwtError::NoMatchingKey => {
                    DpopError::JwkInvalid {
                        reason: "the key does not fit \"alg\"",
                    }
                }
                other => DpopError::Malformed(other),
            })?;
        let thumbprint_input = thumbprint_input(key.params())?;
        let claims = crate::core::json::parse_object(&parts.payload, "payload")
            .map_err(DpopError::Malformed)?;
        let iat = match claims.get("iat") {
            Some(Value::Number(n)) => n.floor_within(0, crate::core::claims::MAX_NUMERIC_DATE),
            _ => None,
        };
        Ok(PendingProof {
            keys,
            alg,
            signing_input: parts.signing_input,
            signature: parts.signature,
            claims,
            iat,
            thumbprint_input,
            now,
        })
    }

    /// Concludes a check begun with [`DpopVerifier::begin`], given the primitive's verdict:
    /// for a valid signature, the claims against `request` and the binding; the `jti` is
    /// recorded next ([`UnrecordedProof::record`]).
    pub fn finish(
        &self,
        pending: PendingProof<'_>,
        signature_valid: bool,
        hashes: &ProofHashes<'_>,
        request: &ProofRequest<'_>,
    ) -> Result<UnrecordedProof, DpopError> {
        if !signature_valid {
            return Err(DpopError::SignatureInvalid);
        }
        let claims = &pending.claims;
        let text = |claim: &'static str| match claims.get(claim) {
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            None => Ok(None),
            Some(_) => Err(DpopError::ClaimMissing { claim }),
        };
        let required = |claim: &'static str| text(claim)?.ok_or(DpopError::ClaimMissing { claim });
        let jti = required("jti")?;
        if jti.is_empty() || jti.len() > MAX_JTI_LEN {
            return Err(DpopError::ClaimMissing { claim: "jti" });
        }
        let htm = required("htm")?;
        let htu = required("htu")?;
        let iat = pending
            .iat
            .ok_or(DpopError::ClaimMissing { claim: "iat" })?;
        if htm != request.method {
            return Err(DpopError::MethodMismatch);
        }
        let expected_htu = normalize_htu(request.url)?;
        if normalize_htu(htu).ok().as_deref() != Some(expected_htu.as_str()) {
            return Err(DpopError::UrlMismatch);
        }
        let now = pending.now;
        if iat > now + self.leeway_secs || iat < now - self.max_age_secs - self.leeway_secs {
            return Err(DpopError::IatOutOfWindow);
        }
        if request.access_token.is_some() {
            let expected = hashes.ath.ok_or(DpopError::InvalidRequest {
                reason: "the access token's hash is required",
            })?;
            if required("ath")? != expected {
                return Err(DpopError::AthMismatch);
            }
        }
        if !request.nonces.is_empty() {
            let nonce = text("nonce")?.ok_or(DpopError::NonceMissing)?;
            if !request.nonces.contains(&nonce) {
                return Err(DpopError::NonceInvalid);
            }
        }
        if let Some(bound) = request.jkt {
            if bound != hashes.jkt {
                return Err(DpopError::KeyMismatch);
            }
        }
        Ok(UnrecordedProof {
            proof: VerifiedProof {
                jti: jti.to_owned(),
                iat,
                alg: pending.alg,
                replay_until: iat + self.max_age_secs + self.leeway_secs,
                jkt: hashes.jkt.to_owned(),
            },
            now,
            quota: self.proofs_per_key,
        })
    }

    /// The whole check with the pure-Rust primitive and SHA-256, up to the replay check:
    /// [`begin`](Self::begin), the signature, [`finish`](Self::finish). Record the `jti` with
    /// [`UnrecordedProof::record`] once the request is otherwise accepted (a server that
    /// records proofs of unauthenticated requests lets anyone fill its replay cache).
    #[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
    pub fn check(
        &self,
        proof: &str,
        request: &ProofRequest<'_>,
        now: i64,
    ) -> Result<UnrecordedProof, DpopError> {
        let pending = self.begin(proof, now)?;
        let key = &pending.keys.keys()[0];
        let valid = crate::core::primitive::verify(
            pending.alg,
            key.params(),
            &key.parsed,
            pending.message(),
            pending.signature(),
        )
        .map_err(|_| DpopError::SignatureInvalid)?;
        let jkt = thumbprint(key.params())?;
        let ath = request.access_token.map(super::access_token_hash);
        let hashes = ProofHashes {
            jkt: &jkt,
            ath: ath.as_deref(),
        };
        self.finish(pending, valid, &hashes, request)
    }

    /// [`check`](Self::check), then the replay check in `cache`.
    #[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
    pub fn verify(
        &self,
        proof: &str,
        request: &ProofRequest<'_>,
        now: i64,
        cache: &mut dyn ReplayCache,
    ) -> Result<VerifiedProof, DpopError> {
        self.check(proof, request, now)?.record(cache)
    }
}

/// The header's `jwk`: asymmetric, public, and a key the core can import.
fn import_public_jwk(jwk: Map) -> Result<JwkSet, DpopError> {
    const PRIVATE: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];
    if PRIVATE.iter().any(|member| jwk.contains_key(member)) || jwk.contains_key("k") {
        return Err(DpopError::JwkPrivate);
    }
    if jwk.contains_key("keys") {
        return Err(DpopError::JwkInvalid {
            reason: "a key set is not a key",
        });
    }
    match jwk.get("kty") {
        Some(Value::String(kty)) if kty == "oct" => return Err(DpopError::JwkPrivate),
        Some(Value::String(_)) => {}
        _ => {
            return Err(DpopError::JwkInvalid {
                reason: "\"kty\" is required",
            })
        }
    }
    JwkSet::from_map(jwk, &KeyOptions::default()).map_err(|err| DpopError::JwkInvalid {
        reason: match err {
            JwtError::InvalidKey { reason }
            | JwtError::WeakKey { reason }
            | JwtError::UnsupportedKey { reason } => reason,
            _ => "not a usable public key",
        },
    })
}
