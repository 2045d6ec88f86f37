//! Signature and claim verification: every decision here, the arithmetic in a primitive.
//!
//! Order of checks: structure (size, segments, base64url, JSON, claim types) and the
//! algorithm policy first, because they are cheap and need no key; then the key is selected
//! by the caller-supplied set (never from `jku`/`x5u`/`jwk`/`x5c`) and the signature's shape
//! checked; then the signature itself; and only for a token with a valid signature the time
//! and identity claims, so that an error about `exp` or `aud` never describes a forged token
//! (a token both badly signed and expired reports the signature, as jose does).
//!
//! [`Verifier::begin`] runs everything up to the signature and hands back a
//! [`PendingSignature`]: the algorithm, the key and the bytes a primitive checks.
//! [`Verifier::finish`] takes the primitive's answer and checks the claims. Natively (and in
//! wasm with the `portable` feature) [`Verifier::verify`] does both around the pure-Rust
//! primitive, synchronously; the npm package asks WebCrypto in between, asynchronously.

use crate::prelude::*;

use crate::core::{
    claims::{Claims, Header},
    decode::{self, DecodeOptions},
    error::JwtError,
    jwk::{JwkSet, KeyParams},
};

/// A JWS algorithm. The ones not compiled in (see Cargo features) are refused at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256 (feature `hmac`).
    Hs256,
    /// HMAC with SHA-384 (feature `hmac`).
    Hs384,
    /// HMAC with SHA-512 (feature `hmac`).
    Hs512,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (feature `rsa`).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (feature `rsa`).
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (feature `rsa`).
    Rs512,
    /// RSASSA-PSS with SHA-256 (feature `rsa`).
    Ps256,
    /// RSASSA-PSS with SHA-384 (feature `rsa`).
    Ps384,
    /// RSASSA-PSS with SHA-512 (feature `rsa`).
    Ps512,
    /// ECDSA on P-256 with SHA-256 (feature `es256`).
    Es256,
    /// Ed25519 (feature `eddsa`).
    EdDsa,
}

impl Algorithm {
    /// Every algorithm, compiled in or not.
    pub const ALL: [Algorithm; 11] = [
        Self::Hs256,
        Self::Hs384,
        Self::Hs512,
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Es256,
        Self::EdDsa,
    ];

    /// The JWS name (`"ES256"`, `"EdDSA"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Parses an exact (case-sensitive) JWS name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// Whether this build can verify the algorithm.
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Hs256 | Self::Hs384 | Self::Hs512 => cfg!(feature = "hmac"),
            Self::Rs256 | Self::Rs384 | Self::Rs512 | Self::Ps256 | Self::Ps384 | Self::Ps512 => {
                cfg!(feature = "rsa")
            }
            Self::Es256 => cfg!(feature = "es256"),
            Self::EdDsa => cfg!(feature = "eddsa"),
        }
    }

    fn is_symmetric(self) -> bool {
        matches!(self, Self::Hs256 | Self::Hs384 | Self::Hs512)
    }
}

/// A token whose signature and claims passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The protected header.
    pub header: Header,
    /// The verified claims.
    pub claims: Claims,
}

/// Checks tokens against a key set and a policy. Build one with [`Verifier::builder`].
///
/// ```
/// use tokenwarden::{Algorithm, JwkSet, KeyOptions, Verifier};
/// let verifier = Verifier::builder()
///     .algorithms([Algorithm::Es256])
///     .issuer("https://auth.example.com")
///     .audience("api")
///     .leeway_secs(30)
///     .build();
/// let keys = JwkSet::from_json(r#"{"keys":[]}"#, &KeyOptions::default())?;
/// let err = verifier.verify("a.b.c", &keys, 1_700_000_000).unwrap_err();
/// assert_eq!(err.code(), "ERR_JWS_INVALID_BASE64");
/// # Ok::<(), tokenwarden::JwtError>(())
/// ```
///
/// The JS binding sets the fields directly (`pub(crate)`): at opt-level "z" each builder call
/// moved the whole struct, about 1 KB of wasm for a dozen options.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) issuers: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) subject: Option<String>,
    pub(crate) typ: Option<String>,
    /// Within `0..=MAX_DURATION_SECS`.
    pub(crate) leeway_secs: i64,
    pub(crate) require_exp: bool,
    pub(crate) required_claims: Vec<String>,
    /// Within `0..=MAX_DURATION_SECS`.
    pub(crate) max_token_age_secs: Option<i64>,
    pub(crate) decode: DecodeOptions,
}

/// Builder for [`Verifier`].
#[derive(Debug, Clone)]
#[must_use]
pub struct VerifierBuilder(Verifier);

impl Verifier {
    /// A builder with the defaults: every compiled-in asymmetric algorithm, no issuer or
    /// audience check, no leeway, `exp` required, 8 KiB size cap.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder(Verifier {
            algorithms: Algorithm::ALL
                .into_iter()
                .filter(|alg| alg.is_compiled() && !alg.is_symmetric())
                .collect(),
            issuers: Vec::new(),
            audiences: Vec::new(),
            subject: None,
            typ: None,
            leeway_secs: 0,
            require_exp: true,
            required_claims: Vec::new(),
            max_token_age_secs: None,
            decode: DecodeOptions::default(),
        })
    }

    /// Verifies `token` against `keys` at time `now` (seconds since the Unix epoch), with the
    /// pure-Rust primitive. A `now` outside `0..=9999-12-31` is refused
    /// ([`JwtError::InvalidOptions`]): no real clock shows it, and refusing it keeps every
    /// date comparison exact.
    #[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
    pub fn verify(&self, token: &str, keys: &JwkSet, now: i64) -> Result<Verified, JwtError> {
        self.verify_keeping_json(token, keys, now).0
    }

    /// [`Verifier::verify`], and the header's and payload's JSON text it decoded (empty when
    /// the token failed before its signature was checked).
    #[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
    pub(crate) fn verify_keeping_json(
        &self,
        token: &str,
        keys: &JwkSet,
        now: i64,
    ) -> (Result<Verified, JwtError>, (String, String)) {
        match self.begin(token, keys, now) {
            Ok(pending) => match pending.check.run_rust_primitive(keys) {
                Ok(valid) => self.finish_keeping_json(pending, valid),
                Err(err) => (Err(err), Default::default()),
            },
            Err(err) => (Err(err), Default::default()),
        }
    }

    /// [`Verifier::finish`], handing back the JSON text of [`PendingSignature::json`].
    pub(crate) fn finish_keeping_json(
        &self,
        mut pending: PendingSignature<'_>,
        signature_valid: bool,
    ) -> (Result<Verified, JwtError>, (String, String)) {
        let json = core::mem::take(&mut pending.json);
        (self.finish(pending, signature_valid), json)
    }

    /// Every check up to the signature: size, structure, header rules, the algorithm policy,
    /// key selection, the signature's shape, and the range of `now`. The primitive then
    /// checks [`PendingSignature::message`] and [`PendingSignature::signature`] with the key
    /// at [`PendingSignature::key_index`] in `keys`, and [`Verifier::finish`] concludes.
    pub fn begin<'t>(
        &self,
        token: &'t str,
        keys: &JwkSet,
        now: i64,
    ) -> Result<PendingSignature<'t>, JwtError> {
        if !(0..=MAX_NOW).contains(&now) {
            return Err(JwtError::InvalidOptions {
                reason: "the current date is out of range".into(),
            });
        }
        let parts = decode::split(token, &self.decode)?;
        let check = self.signature_check(
            &parts.token.header,
            keys,
            parts.signing_input,
            parts.signature,
        )?;
        Ok(PendingSignature {
            check,
            header: parts.token.header,
            claims: parts.token.claims,
            now,
            json: parts.json,
        })
    }

    /// Concludes a verification begun with [`Verifier::begin`], given the primitive's verdict
    /// on the signature: `typ` and the claims are checked only for a valid signature.
    pub fn finish(
        &self,
        pending: PendingSignature<'_>,
        signature_valid: bool,
    ) -> Result<Verified, JwtError> {
        if !signature_valid {
            return Err(JwtError::SignatureInvalid);
        }
        let PendingSignature {
            header,
            claims,
            now,
            ..
        } = pending;
        if let Some(expected) = &self.typ {
            // Case-insensitive, an `application/` prefix ignored (RFC 7515 §4.1.9).
            fn normalize(t: &str) -> &str {
                let prefix = "application/";
                match (t.get(..prefix.len()), t.get(prefix.len()..)) {
                    (Some(head), Some(rest)) if head.eq_ignore_ascii_case(prefix) => rest,
                    _ => t,
                }
            }
            let same = header
                .typ
                .as_deref()
                .is_some_and(|typ| normalize(typ).eq_ignore_ascii_case(normalize(expected)));
            if !same {
                return Err(JwtError::TypMismatch);
            }
        }
        self.check_claims(&claims, now)?;
        Ok(Verified { header, claims })
    }

    /// Verifies the signature of a compact JWS whose payload is not a JWT claims set
    /// (jose's `compactVerify`) and returns the header and the payload bytes. Only the
    /// algorithm and key rules apply; there are no claims to check.
    #[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
    pub fn verify_jws(&self, jws: &str, keys: &JwkSet) -> Result<(Header, Vec<u8>), JwtError> {
        let parts = decode::split_jws(jws, &self.decode)?;
        let check =
            self.signature_check(&parts.header, keys, parts.signing_input, parts.signature)?;
        if check.run_rust_primitive(keys)? {
            Ok((parts.header, parts.payload))
        } else {
            Err(JwtError::SignatureInvalid)
        }
    }

    /// The policy half of a signature check on arbitrary message bytes: the algorithm
    /// allowed, the key selected (without `kid`), the signature's shape. Returns the algorithm
    /// and the key's index for a primitive. For conformance tests (Wycheproof's messages are not
    /// JWS signing inputs); tokens go through [`Verifier::begin`].
    #[doc(hidden)]
    pub fn raw_signature_policy(
        &self,
        alg: &str,
        keys: &JwkSet,
        signature: &[u8],
    ) -> Result<(Algorithm, usize), JwtError> {
        let alg = self.check_algorithm(alg)?;
        let key_index = keys.select_index(None, alg)?;
        check_signature_shape(alg, keys.key(key_index)?.params(), signature)?;
        Ok((alg, key_index))
    }

    /// [`Verifier::raw_signature_policy`] and the pure-Rust primitive.
    #[doc(hidden)]
    #[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
    pub fn check_raw_signature(
        &self,
        alg: &str,
        keys: &JwkSet,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), JwtError> {
        let (alg, key_index) = self.raw_signature_policy(alg, keys, signature)?;
        let key = keys.key(key_index)?;
        if crate::core::primitive::verify(alg, key.params(), &key.parsed, message, signature)? {
            Ok(())
        } else {
            Err(JwtError::SignatureInvalid)
        }
    }

    fn signature_check<'t>(
        &self,
        header: &Header,
        keys: &JwkSet,
        signing_input: &'t str,
        signature: Vec<u8>,
    ) -> Result<SignatureCheck<'t>, JwtError> {
        let alg = self.check_algorithm(&header.alg)?;
        let key_index = keys.select_index(header.kid.as_deref(), alg)?;
        check_signature_shape(alg, keys.key(key_index)?.params(), &signature)?;
        Ok(SignatureCheck {
            alg,
            key_index,
            signing_input,
            signature,
        })
    }

    fn check_algorithm(&self, name: &str) -> Result<Algorithm, JwtError> {
        if name.eq_ignore_ascii_case("none") {
            return Err(JwtError::AlgNone);
        }
        Algorithm::from_name(name)
            .filter(|alg| alg.is_compiled() && self.algorithms.contains(alg))
            .ok_or_else(|| JwtError::AlgNotAllowed {
                alg: name.chars().take(16).collect(),
            })
    }

    fn check_claims(&self, claims: &Claims, now: i64) -> Result<(), JwtError> {
        // Every date was range-checked to 0..=9999-12-31 at decoding, `now` by `begin`, and
        // leeway and max age are bounded by the builder, so none of the sums below can overflow.
        let leeway = self.leeway_secs;
        match claims.exp {
            Some(exp) if now >= exp + leeway => return Err(JwtError::Expired),
            None if self.require_exp => {
                return Err(JwtError::MissingClaim {
                    claim: "exp".into(),
                })
            }
            _ => {}
        }
        if let Some(nbf) = claims.nbf {
            if now + leeway < nbf {
                return Err(JwtError::NotYetValid);
            }
        }
        if let Some(max_age) = self.max_token_age_secs {
            let iat = claims.iat.ok_or_else(|| JwtError::MissingClaim {
                claim: "iat".into(),
            })?;
            if now - iat > max_age + leeway {
                return Err(JwtError::TooOld);
            }
        }
        if !self.issuers.is_empty() {
            match &claims.iss {
                None => {
                    return Err(JwtError::MissingClaim {
                        claim: "iss".into(),
                    })
                }
                Some(iss) if !self.issuers.contains(iss) => return Err(JwtError::IssuerMismatch),
                Some(_) => {}
            }
        }
        if let Some(subject) = &self.subject {
            match &claims.sub {
                None => {
                    return Err(JwtError::MissingClaim {
                        claim: "sub".into(),
                    })
                }
                Some(sub) if sub != subject => return Err(JwtError::SubjectMismatch),
                Some(_) => {}
            }
        }
        if !self.audiences.is_empty() {
            let aud = claims.aud.as_ref().ok_or_else(|| JwtError::MissingClaim {
                claim: "aud".into(),
            })?;
            if !self.audiences.iter().any(|expected| aud.contains(expected)) {
                return Err(JwtError::AudienceMismatch);
            }
        }
        for claim in &self.required_claims {
            if !claims.contains(claim) {
                return Err(JwtError::MissingClaim {
                    claim: claim.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Longest accepted leeway or max age: ten years. Keeps date arithmetic far from overflow.
pub(crate) use crate::core::time::MAX_DURATION_SECS;
/// `now` outside this range cannot be a real clock; refusing it keeps arithmetic exact.
const MAX_NOW: i64 = crate::core::claims::MAX_NUMERIC_DATE;

impl VerifierBuilder {
    /// The algorithms accepted (jose's `algorithms`). Empty means none: every token fails.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.0.algorithms = algorithms.into_iter().collect();
        self
    }

    /// An accepted `iss` (exact match); call again to accept several (jose's `issuer`).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.0.issuers.push(issuer.into());
        self
    }

    /// The exact `sub` required (jose's `subject`).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.0.subject = Some(subject.into());
        self
    }

    /// The exact header `typ` required (jose's `typ`), e.g. `at+jwt` for RFC 9068 tokens.
    /// Compared case-insensitively, with an optional `application/` prefix ignored.
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.0.typ = Some(typ.into());
        self
    }

    /// An accepted audience; call again to accept several (jose's `audience`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.0.audiences.push(audience.into());
        self
    }

    /// Clock tolerance in seconds for `exp`, `nbf` and max age (jose's `clockTolerance`),
    /// clamped to 0..=10 years.
    pub fn leeway_secs(mut self, leeway: i64) -> Self {
        self.0.leeway_secs = leeway.clamp(0, MAX_DURATION_SECS);
        self
    }

    /// Whether `exp` must be present (default `true`).
    pub fn require_exp(mut self, required: bool) -> Self {
        self.0.require_exp = required;
        self
    }

    /// A claim that must be present (jose's `requiredClaims`).
    pub fn required_claim(mut self, claim: impl Into<String>) -> Self {
        self.0.required_claims.push(claim.into());
        self
    }

    /// Refuse tokens whose `iat` is older than this many seconds (jose's `maxTokenAge`);
    /// implies `iat` is required. Clamped to 0..=10 years.
    pub fn max_token_age_secs(mut self, max_age: i64) -> Self {
        self.0.max_token_age_secs = Some(max_age.clamp(0, MAX_DURATION_SECS));
        self
    }

    /// Cap on the token length in bytes (default 8 KiB).
    pub fn max_token_len(mut self, max_len: usize) -> Self {
        self.0.decode.max_len = max_len;
        self
    }

    /// The verifier.
    pub fn build(self) -> Verifier {
        self.0
    }
}

/// What a signature primitive checks: the algorithm, which key, and the bytes.
struct SignatureCheck<'t> {
    alg: Algorithm,
    key_index: usize,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`.
    signing_input: &'t str,
    signature: Vec<u8>,
}

impl SignatureCheck<'_> {
    #[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
    fn run_rust_primitive(&self, keys: &JwkSet) -> Result<bool, JwtError> {
        let key = keys.key(self.key_index)?;
        crate::core::primitive::verify(
            self.alg,
            key.params(),
            &key.parsed,
            self.signing_input.as_bytes(),
            &self.signature,
        )
    }
}

/// A token that passed every check that needs no signature, waiting for a primitive's verdict
/// (see [`Verifier::begin`]). Nothing in it is trusted yet.
pub struct PendingSignature<'t> {
    check: SignatureCheck<'t>,
    header: Header,
    claims: Claims,
    now: i64,
    /// The header's and the payload's decoded JSON text.
    json: (String, String),
}

impl core::fmt::Debug for PendingSignature<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The token's bytes stay out of logs.
        f.debug_struct("PendingSignature")
            .field("alg", &self.check.alg)
            .field("key_index", &self.check.key_index)
            .finish_non_exhaustive()
    }
}

impl PendingSignature<'_> {
    /// The algorithm to verify with: allowed by the policy and admitted by the key.
    pub fn algorithm(&self) -> Algorithm {
        self.check.alg
    }

    /// The position of the selected key in [`JwkSet::keys`].
    pub fn key_index(&self) -> usize {
        self.check.key_index
    }

    /// The signed bytes (the token's first two segments and the dot between them).
    pub fn message(&self) -> &[u8] {
        self.check.signing_input.as_bytes()
    }

    /// The signature bytes, of the length the algorithm and key require.
    pub fn signature(&self) -> &[u8] {
        &self.check.signature
    }

    /// The decoded JSON text of the header and of the payload, checked strictly (UTF-8, one
    /// object each, no duplicate names), for a host that builds its own objects from them
    /// (the npm package's `JSON.parse`) instead of decoding the token a second time.
    pub fn json(&self) -> (&[u8], &[u8]) {
        (self.json.0.as_bytes(), self.json.1.as_bytes())
    }
}

/// The group order of P-256, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Refuses a signature of the wrong length for its algorithm and key, and an ES256 signature
/// whose r or s is 0 or not below the group order (no primitive may see them: WebCrypto
/// would answer "invalid", the rsa and p256 crates "malformed").
fn check_signature_shape(
    alg: Algorithm,
    params: &KeyParams,
    signature: &[u8],
) -> Result<(), JwtError> {
    let expected_len = match (alg, params) {
        (Algorithm::Es256 | Algorithm::EdDsa | Algorithm::Hs512, _) => 64,
        (Algorithm::Hs256, _) => 32,
        (Algorithm::Hs384, _) => 48,
        (_, KeyParams::Rsa { n, .. }) => n.len(),
        _ => return Err(JwtError::MalformedSignature),
    };
    if signature.len() != expected_len {
        return Err(JwtError::MalformedSignature);
    }
    if alg == Algorithm::Es256 {
        let in_range =
            |scalar: &[u8]| scalar.iter().any(|&b| b != 0) && scalar < P256_ORDER.as_slice();
        let (r, s) = signature.split_at_checked(32).unwrap_or_default();
        if !in_range(r) || !in_range(s) {
            return Err(JwtError::MalformedSignature);
        }
    }
    Ok(())
}
