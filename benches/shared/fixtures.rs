//! What `benches/core.rs` (criterion) and `benches/paired.rs` (interleaved ratios) verify: one
//! realistic access token per algorithm, the key sets the core verifies it with, and the
//! `jsonwebtoken` keys and validation for the same token and checks.

use serde_json::json;
use tokenwarden::{Algorithm, JwkSet, KeyOptions, Verifier};

use crate::support::{self, b64, ISSUER, NOW};

const AUDIENCE: &str = "https://api.example.com";
const HS_SECRET: [u8; 32] = [0x5a; 32];

/// The algorithms both benchmarks compare.
pub const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::Hs256,
    Algorithm::Rs256,
    Algorithm::Es256,
    Algorithm::EdDsa,
];

/// The claims of a typical OIDC-style access token (about 400 bytes of JSON).
fn payload() -> String {
    json!({
        "iss": ISSUER,
        "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
        "aud": [AUDIENCE, "https://auth.example.com/userinfo"],
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3540,
        "jti": "4f1g23a12aa-8b5c-4e9e-b1d0-7a2f3c9e0d11",
        "azp": "spa-client-7Hq3",
        "scope": "openid profile email read:items write:items",
        "email": "ada.lovelace@example.com",
        "email_verified": true,
        "name": "Ada Lovelace",
        "roles": ["user", "beta"],
        "org_id": "org_9c2f41"
    })
    .to_string()
}

pub fn token(alg: Algorithm) -> String {
    let (kid, name) = match alg {
        Algorithm::Hs256 => ("hs", "HS256"),
        Algorithm::Rs256 => ("rsa", "RS256"),
        Algorithm::Es256 => ("es", "ES256"),
        Algorithm::EdDsa => ("ed", "EdDSA"),
        other => panic!("not benchmarked: {other:?}"),
    };
    let header = format!(r#"{{"alg":"{name}","kid":"{kid}","typ":"JWT"}}"#);
    if alg == Algorithm::Hs256 {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload().as_bytes()));
        let signature = support::hs256(&HS_SECRET, input.as_bytes());
        format!("{input}.{}", b64(&signature))
    } else {
        support::sign(kid, &header, &payload())
    }
}

/// The keys the core verifies `alg`'s token with: the `oct` key for HS256 (feature `hmac`),
/// else the set of the three asymmetric keys.
pub fn keys(alg: Algorithm) -> JwkSet {
    if alg == Algorithm::Hs256 {
        let jwk =
            json!({"keys": [{"kty": "oct", "kid": "hs", "alg": "HS256", "k": b64(&HS_SECRET)}]});
        JwkSet::from_json(
            &jwk.to_string(),
            &KeyOptions {
                allow_symmetric: true,
            },
        )
        .expect("oct key")
    } else {
        support::jwks(&["es", "ed", "rsa"])
    }
}

pub fn verifier(alg: Algorithm) -> Verifier {
    Verifier::builder()
        .algorithms([alg])
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
}

/// `jsonwebtoken`'s key (built once from the same JWK, `DecodingKey::from_jwk`) and validation
/// (issuer, audience, `exp`) for `alg`'s token.
pub fn jsonwebtoken_case(alg: Algorithm) -> (jsonwebtoken::DecodingKey, jsonwebtoken::Validation) {
    let (key, jwt_alg) = match alg {
        Algorithm::Hs256 => (
            jsonwebtoken::DecodingKey::from_secret(&HS_SECRET),
            jsonwebtoken::Algorithm::HS256,
        ),
        _ => {
            let (kid, jwt_alg) = match alg {
                Algorithm::Rs256 => ("rsa", jsonwebtoken::Algorithm::RS256),
                Algorithm::Es256 => ("es", jsonwebtoken::Algorithm::ES256),
                _ => ("ed", jsonwebtoken::Algorithm::EdDSA),
            };
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(support::public_jwk(kid)).expect("a JWK");
            let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("jsonwebtoken key");
            (key, jwt_alg)
        }
    };
    let mut validation = jsonwebtoken::Validation::new(jwt_alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    // `exp` is checked against the system clock; the benchmark tokens expire at NOW + 3540.
    validation.validate_exp = NOW > now_secs();
    (key, validation)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
