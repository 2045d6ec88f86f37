//! ID-token claim checks (OIDC Core §3.1.3.7, §12.2) on claims whose signature the verifier has
//! already checked against the provider's `jwks_uri`.
//!
//! The claims come in as plain fields so this module does not depend on how the JSON layer
//! represents them; the shell copies them out of the verified token.

use crate::prelude::*;

use crate::core::oauth::error::OAuthError;
use crate::core::oauth::metadata::ProviderMetadata;
use crate::core::oauth::transaction::CodeExchange;

/// The claims an ID token is checked on. `aud` empty means absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdTokenClaims {
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `aud`, one or several.
    pub aud: Vec<String>,
    /// `azp`.
    pub azp: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `exp`, Unix seconds.
    pub exp: Option<i64>,
    /// `iat`, Unix seconds.
    pub iat: Option<i64>,
    /// `auth_time`, Unix seconds.
    pub auth_time: Option<i64>,
}

impl IdTokenClaims {
    /// The claims of an ID token already verified (the session's, kept as the logout hint):
    /// `None` when it does not decode.
    pub fn of_token(token: &str) -> Option<Self> {
        crate::core::decode::decode_unverified(token)
            .ok()
            .map(|t| Self::from_claims(&t.claims))
    }

    /// The claims the checks read, copied from a token's decoded claims.
    pub fn from_claims(claims: &crate::core::claims::Claims) -> Self {
        use crate::core::claims::Audience;
        use crate::core::json::Value;
        let text = |name: &str| {
            claims
                .extra
                .get(name)
                .and_then(Value::as_str)
                .map(String::from)
        };
        Self {
            iss: claims.iss.clone(),
            sub: claims.sub.clone(),
            aud: match &claims.aud {
                Some(Audience::One(one)) => vec![one.clone()],
                Some(Audience::Many(many)) => many.clone(),
                None => Vec::new(),
            },
            azp: text("azp"),
            nonce: text("nonce"),
            exp: claims.exp,
            iat: claims.iat,
            auth_time: match claims.extra.get("auth_time") {
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            },
        }
    }
}

/// The signature algorithms an ID token of this provider may use: those of its
/// `id_token_signing_alg_values_supported` that this build can verify, never an HMAC (a public
/// client has no secret) nor `none`; RS256 (the OpenID default) when it lists none.
#[cfg(feature = "verify")]
pub fn id_token_algorithms(metadata: &ProviderMetadata) -> Vec<crate::core::verify::Algorithm> {
    use crate::core::verify::Algorithm;
    match &metadata.id_token_signing_alg_values_supported {
        None => vec![Algorithm::Rs256],
        Some(names) => names
            .iter()
            .filter_map(|name| Algorithm::from_name(name))
            .filter(|alg| {
                alg.is_compiled()
                    && !matches!(alg, Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512)
            })
            .collect(),
    }
}

/// What an ID token must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenCheck {
    /// The provider's issuer.
    pub issuer: String,
    /// The client id: must be among `aud`, and equal `azp` when present.
    pub client_id: String,
    /// The login's nonce; `None` skips the check (refresh responses, OIDC Core §12.2).
    pub nonce: Option<String>,
    /// The login's `max_age`: `auth_time` is then required and checked.
    pub max_age: Option<u64>,
    /// For an ID token from a refresh: the claims of the session's ID token, which `iss`,
    /// `sub`, `aud`, `auth_time` and `nonce` must keep (OIDC Core §12.2).
    pub original: Option<IdTokenClaims>,
    /// Clock tolerance in seconds (default 60).
    pub leeway_secs: i64,
    /// How old `iat` may be, in seconds (default 600, the login transaction's lifetime).
    pub max_iat_age_secs: i64,
}

impl IdTokenCheck {
    /// The checks of the ID token returned with the code of `exchange`.
    pub fn for_login(metadata: &ProviderMetadata, exchange: &CodeExchange) -> Self {
        Self {
            issuer: metadata.issuer.clone(),
            client_id: exchange.client_id.clone(),
            nonce: exchange.nonce.clone(),
            max_age: exchange.max_age,
            original: None,
            leeway_secs: 60,
            max_iat_age_secs: 600,
        }
    }

    /// The checks of an ID token returned by a refresh (OIDC Core §12.2), the same as at login
    /// (signature first, then `iss`, `aud`, `azp`, `exp`, `iat`) and, against `original` (the
    /// claims of the session's ID token, when it has one): the same `iss`, `sub` and `aud`, the
    /// same `auth_time` when both carry one, and no `nonce` or the original one.
    pub fn for_refresh(
        metadata: &ProviderMetadata,
        client_id: &str,
        original: Option<IdTokenClaims>,
    ) -> Self {
        Self {
            issuer: metadata.issuer.clone(),
            client_id: client_id.to_owned(),
            nonce: None,
            max_age: None,
            original,
            leeway_secs: 60,
            max_iat_age_secs: 600,
        }
    }

    /// The check of the ID token of a refresh answer, if it carries one: against `original`,
    /// the claims of the session's ID token (verified when it arrived; see
    /// [`IdTokenClaims::of_token`]), `None` when the session has none.
    pub fn of_refresh(
        metadata: &ProviderMetadata,
        client_id: &str,
        original: Option<IdTokenClaims>,
        response: &crate::core::oauth::TokenResponse,
    ) -> Option<Self> {
        response.id_token.as_ref()?;
        Some(Self::for_refresh(metadata, client_id, original))
    }

    /// The checks of an ID token from a refresh: [`validate`](Self::validate), then, against
    /// `original` when the session has an ID token (OIDC Core §12.2): the same `iss`, `sub` and
    /// `aud` (in any order), no `nonce` or the original one, the same `auth_time` when both
    /// carry one. (A separate method: builds that never refresh with an ID token link none of
    /// it.)
    pub fn validate_refresh(
        &self,
        claims: &IdTokenClaims,
        now_secs: i64,
    ) -> Result<(), OAuthError> {
        self.validate(claims, now_secs)?;
        let Some(original) = &self.original else {
            return Ok(());
        };
        if original.iss != claims.iss {
            return Err(OAuthError::IdTokenIssuerMismatch);
        }
        if original.sub != claims.sub {
            return Err(OAuthError::IdTokenSubjectMismatch);
        }
        if claims.aud.len() != original.aud.len()
            || claims.aud.iter().any(|a| !original.aud.contains(a))
        {
            return Err(OAuthError::IdTokenAudienceMismatch);
        }
        if claims.nonce.is_some() && claims.nonce != original.nonce {
            return Err(OAuthError::NonceMismatch);
        }
        if let (Some(new), Some(old)) = (claims.auth_time, original.auth_time) {
            if new != old {
                // (A refresh answer that is not usable; no code of its own, to keep
                // builds that never call this free of it.)
                return Err(OAuthError::InvalidTokenResponse {
                    reason: "the id token's \"auth_time\" differs from the session's",
                });
            }
        }
        Ok(())
    }

    /// Checks `claims` at `now_secs` (Unix seconds), in this order: `iss`, `sub`, `aud`, `azp`,
    /// `nonce`, `exp`, `iat`, `auth_time` (the login's rules; see also
    /// [`validate_refresh`](Self::validate_refresh)).
    pub fn validate(&self, claims: &IdTokenClaims, now_secs: i64) -> Result<(), OAuthError> {
        let missing = |claim| OAuthError::IdTokenClaimMissing { claim };
        let iss = claims.iss.as_deref().ok_or(missing("iss"))?;
        if iss != self.issuer {
            return Err(OAuthError::IdTokenIssuerMismatch);
        }
        claims.sub.as_deref().ok_or(missing("sub"))?;
        if claims.aud.is_empty() {
            return Err(missing("aud"));
        }
        if !claims.aud.contains(&self.client_id) {
            return Err(OAuthError::IdTokenAudienceMismatch);
        }
        // OIDC Core §3.1.3.7 (4, 5): with several audiences `azp` names the client; when
        // present it must be this client.
        match claims.azp.as_deref() {
            Some(azp) if azp != self.client_id => return Err(OAuthError::IdTokenAzpMismatch),
            None if claims.aud.len() > 1 => return Err(OAuthError::IdTokenAzpMismatch),
            _ => {}
        }
        if let Some(expected) = &self.nonce {
            if claims.nonce.as_deref() != Some(expected.as_str()) {
                return Err(OAuthError::NonceMismatch);
            }
        }
        let exp = claims.exp.ok_or(missing("exp"))?;
        if now_secs.saturating_sub(self.leeway_secs) >= exp {
            return Err(OAuthError::IdTokenExpired);
        }
        let iat = claims.iat.ok_or(missing("iat"))?;
        if iat > now_secs.saturating_add(self.leeway_secs)
            || iat < now_secs.saturating_sub(self.max_iat_age_secs + self.leeway_secs)
        {
            return Err(OAuthError::IdTokenIatOutOfRange);
        }
        if let Some(max_age) = self.max_age {
            let auth_time = claims.auth_time.ok_or(missing("auth_time"))?;
            let max_age = i64::try_from(max_age).unwrap_or(i64::MAX);
            if now_secs.saturating_sub(self.leeway_secs) > auth_time.saturating_add(max_age) {
                return Err(OAuthError::AuthTimeTooOld);
            }
        }
        Ok(())
    }
}
