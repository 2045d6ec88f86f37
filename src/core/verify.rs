//! Signature and claim verification on jwt-compact's primitives.
//!
//! Order of checks: structure (size, segments, base64url, JSON, claim types) and the
//! algorithm policy first, because they are cheap and need no key; then the key is selected
//! by the caller-supplied set (never from `jku`/`x5u`/`jwk`/`x5c`); then the signature; and
//! only for a token with a valid signature the time and identity claims, so that an error
//! about `exp` or `aud` never describes a forged token.

use crate::core::{
    claims::{Claims, Header},
    decode::{self, DecodeOptions},
    error::JwtError,
    jwk::{JwkSet, KeyMaterial},
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
#[derive(Debug, Clone)]
pub struct Verifier {
    algorithms: Vec<Algorithm>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    subject: Option<String>,
    typ: Option<String>,
    leeway_secs: i64,
    require_exp: bool,
    required_claims: Vec<String>,
    max_token_age_secs: Option<i64>,
    decode: DecodeOptions,
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

    /// Verifies `token` against `keys` at time `now` (seconds since the Unix epoch).
    pub fn verify(&self, token: &str, keys: &JwkSet, now: i64) -> Result<Verified, JwtError> {
        let parts = decode::split(token, &self.decode)?;
        let header = parts.token.header;
        self.check_signature(&header, keys, parts.signing_input, &parts.signature)?;
        if let Some(expected) = &self.typ {
            let normalize = |t: &str| {
                let lower = t.to_ascii_lowercase();
                lower
                    .strip_prefix("application/")
                    .map(str::to_owned)
                    .unwrap_or(lower)
            };
            if header.typ.as_deref().map(normalize) != Some(normalize(expected)) {
                return Err(JwtError::TypMismatch);
            }
        }
        let claims = parts.token.claims;
        self.check_claims(&claims, now)?;
        Ok(Verified { header, claims })
    }

    /// Verifies the signature of a compact JWS whose payload is not a JWT claims set
    /// (jose's `compactVerify`) and returns the header and the payload bytes. Only the
    /// algorithm and key rules apply; there are no claims to check.
    pub fn verify_jws(&self, jws: &str, keys: &JwkSet) -> Result<(Header, Vec<u8>), JwtError> {
        let parts = decode::split_jws(jws, &self.decode)?;
        self.check_signature(&parts.header, keys, parts.signing_input, &parts.signature)?;
        Ok((parts.header, parts.payload))
    }

    fn check_signature(
        &self,
        header: &Header,
        keys: &JwkSet,
        signing_input: &str,
        signature: &[u8],
    ) -> Result<(), JwtError> {
        let alg = self.check_algorithm(&header.alg)?;
        let key = keys.select(header.kid.as_deref(), alg)?;
        if verify_signature(alg, &key.material, signing_input.as_bytes(), signature)? {
            Ok(())
        } else {
            Err(JwtError::SignatureInvalid)
        }
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
        // Every date was range-checked to 0..=9999-12-31 at decoding, and leeway and max age
        // are bounded by the builder, so none of the sums below can overflow.
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
const MAX_DURATION_SECS: i64 = 10 * 366 * 24 * 3600;
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

impl Verifier {
    /// As [`Verifier::verify`], refusing a `now` that no real clock can show.
    pub fn verify_checked_now(
        &self,
        token: &str,
        keys: &JwkSet,
        now: i64,
    ) -> Result<Verified, JwtError> {
        if !(0..=MAX_NOW).contains(&now) {
            return Err(JwtError::InvalidOptions {
                reason: "the current date is out of range".into(),
            });
        }
        self.verify(token, keys, now)
    }
}

/// Checks the signature length first: jwt-compact's `try_from_slice` for Ed25519 copies into
/// a fixed array and would panic on a wrong length.
#[allow(unused_variables)]
fn verify_signature(
    alg: Algorithm,
    key: &KeyMaterial,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, JwtError> {
    use jwt_compact::{Algorithm as _, AlgorithmSignature};

    fn parse<S: AlgorithmSignature>(bytes: &[u8]) -> Result<S, JwtError> {
        if let Some(expected) = S::LENGTH {
            if bytes.len() != expected.get() {
                return Err(JwtError::MalformedSignature);
            }
        }
        S::try_from_slice(bytes).map_err(|_| JwtError::MalformedSignature)
    }

    match (key, alg) {
        #[cfg(feature = "es256")]
        (KeyMaterial::P256(key), Algorithm::Es256) => {
            let alg = jwt_compact::alg::Es256;
            // `try_from_slice` refuses r = 0 or s = 0 (and scalars >= n).
            Ok(alg.verify_signature(&parse(signature)?, key, message))
        }
        #[cfg(feature = "eddsa")]
        (KeyMaterial::Ed25519(key), Algorithm::EdDsa) => {
            let alg = jwt_compact::alg::Ed25519;
            Ok(alg.verify_signature(&parse(signature)?, key, message))
        }
        #[cfg(feature = "rsa")]
        (
            KeyMaterial::Rsa(key),
            Algorithm::Rs256
            | Algorithm::Rs384
            | Algorithm::Rs512
            | Algorithm::Ps256
            | Algorithm::Ps384
            | Algorithm::Ps512,
        ) => {
            let rsa = jwt_compact::alg::Rsa::with_name(alg.name());
            // An RSA signature is exactly as long as the modulus.
            let modulus_len = rsa_modulus_len(key);
            if signature.len() != modulus_len {
                return Err(JwtError::MalformedSignature);
            }
            Ok(rsa.verify_signature(&parse(signature)?, key, message))
        }
        #[cfg(feature = "hmac")]
        (KeyMaterial::Oct(secret), Algorithm::Hs256) => {
            let key = jwt_compact::alg::Hs256Key::new(secret.as_slice());
            Ok(jwt_compact::alg::Hs256.verify_signature(&parse(signature)?, &key, message))
        }
        #[cfg(feature = "hmac")]
        (KeyMaterial::Oct(secret), Algorithm::Hs384) => {
            let key = jwt_compact::alg::Hs384Key::new(secret.as_slice());
            Ok(jwt_compact::alg::Hs384.verify_signature(&parse(signature)?, &key, message))
        }
        #[cfg(feature = "hmac")]
        (KeyMaterial::Oct(secret), Algorithm::Hs512) => {
            let key = jwt_compact::alg::Hs512Key::new(secret.as_slice());
            Ok(jwt_compact::alg::Hs512.verify_signature(&parse(signature)?, &key, message))
        }
        // `JwkSet::select` only returns a key whose family admits `alg`.
        #[allow(unreachable_patterns)]
        _ => Err(JwtError::KeyAlgMismatch {
            key: "another algorithm family",
            token: alg.name().into(),
        }),
    }
}

#[cfg(feature = "rsa")]
fn rsa_modulus_len(key: &jwt_compact::alg::RsaPublicKey) -> usize {
    use jwt_compact::jwk::JsonWebKey;
    match JsonWebKey::from(key) {
        JsonWebKey::Rsa { modulus, .. } => modulus.len(),
        _ => 0,
    }
}
