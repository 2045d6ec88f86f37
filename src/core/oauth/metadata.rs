//! Provider metadata: where to find it (OpenID Connect Discovery, RFC 8414) and the checks that
//! make it safe to use.

use crate::prelude::*;

use crate::core::error::{cat, find};
use crate::core::oauth::error::OAuthError;
use crate::core::oauth::object::{Object, WrongType};
use crate::core::oauth::url::{check_endpoint, check_issuer};

/// Largest metadata document accepted (checked before parsing).
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// The URLs to fetch the metadata from, in order: OpenID Connect Discovery
/// (`{issuer}/.well-known/openid-configuration`), then RFC 8414
/// (`https://host/.well-known/oauth-authorization-server{path}`). Fetch the second only when the
/// first answers 404 (or another non-2xx status); both must pass [`ProviderMetadata::parse`].
///
/// ```
/// use tokenwarden::core::oauth::discovery_urls;
/// let [oidc, rfc8414] = discovery_urls("https://idp.example/tenant").unwrap();
/// assert_eq!(oidc, "https://idp.example/tenant/.well-known/openid-configuration");
/// assert_eq!(rfc8414, "https://idp.example/.well-known/oauth-authorization-server/tenant");
/// ```
pub fn discovery_urls(issuer: &str) -> Result<[String; 2], OAuthError> {
    check_issuer(issuer)?;
    let trimmed = issuer.strip_suffix('/').unwrap_or(issuer);
    let oidc = cat(&[trimmed, "/.well-known/openid-configuration"]);
    // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
    let after_scheme = find(trimmed, "://").map_or(0, |i| i + 3);
    let path_start = trimmed[after_scheme..]
        .find('/')
        .map_or(trimmed.len(), |i| after_scheme + i);
    let rfc8414 = cat(&[
        &trimmed[..path_start],
        "/.well-known/oauth-authorization-server",
        &trimmed[path_start..],
    ]);
    Ok([oidc, rfc8414])
}

/// The members of a provider's metadata that the OAuth profile uses, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// `issuer`: exactly the configured issuer.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `jwks_uri`: the keys ID tokens are verified with (required for OpenID Connect).
    pub jwks_uri: Option<String>,
    /// `revocation_endpoint` (RFC 7009).
    pub revocation_endpoint: Option<String>,
    /// `end_session_endpoint` (OpenID Connect RP-Initiated Logout).
    pub end_session_endpoint: Option<String>,
    /// `userinfo_endpoint`.
    pub userinfo_endpoint: Option<String>,
    /// `code_challenge_methods_supported` (RFC 8414). Many providers that support PKCE omit it.
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// `response_types_supported`.
    pub response_types_supported: Option<Vec<String>>,
    /// `grant_types_supported`.
    pub grant_types_supported: Option<Vec<String>>,
    /// `scopes_supported`.
    pub scopes_supported: Option<Vec<String>>,
    /// `id_token_signing_alg_values_supported`.
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    /// `dpop_signing_alg_values_supported` (RFC 9449).
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207): when true, every
    /// authorization response must carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
}

impl ProviderMetadata {
    /// Parses a metadata document fetched for `configured_issuer` and checks it:
    /// - `issuer` equals `configured_issuer` exactly (no normalisation: a trailing slash matters);
    /// - every endpoint used is `https`, or `http` on a loopback host;
    /// - `authorization_endpoint` and `token_endpoint` are present;
    /// - if the provider lists PKCE methods or response types, `S256` and `code` are among them.
    ///
    /// Unknown members are ignored; a member of the wrong type is refused.
    pub fn parse(document: &str, configured_issuer: &str) -> Result<Self, OAuthError> {
        check_issuer(configured_issuer)?;
        if document.len() > MAX_METADATA_BYTES {
            return Err(OAuthError::InvalidMetadata {
                reason: "the document is larger than 64 KiB",
            });
        }
        let metadata = Object::parse(document)
            .and_then(|object| Self::read(object).ok())
            .ok_or(OAuthError::InvalidMetadata {
                reason: "not a JSON object with string issuer and endpoints",
            })?;
        metadata.check(configured_issuer)?;
        Ok(metadata)
    }

    fn read(mut object: Object) -> Result<Self, WrongType> {
        let mut required = |name| object.string(name)?.ok_or(WrongType);
        let issuer = required("issuer")?;
        let authorization_endpoint = required("authorization_endpoint")?;
        let token_endpoint = required("token_endpoint")?;
        Ok(Self {
            issuer,
            authorization_endpoint,
            token_endpoint,
            jwks_uri: object.string("jwks_uri")?,
            revocation_endpoint: object.string("revocation_endpoint")?,
            end_session_endpoint: object.string("end_session_endpoint")?,
            userinfo_endpoint: object.string("userinfo_endpoint")?,
            code_challenge_methods_supported: object.strings("code_challenge_methods_supported")?,
            response_types_supported: object.strings("response_types_supported")?,
            grant_types_supported: object.strings("grant_types_supported")?,
            scopes_supported: object.strings("scopes_supported")?,
            id_token_signing_alg_values_supported: object
                .strings("id_token_signing_alg_values_supported")?,
            dpop_signing_alg_values_supported: object
                .strings("dpop_signing_alg_values_supported")?,
            authorization_response_iss_parameter_supported: object
                .boolean("authorization_response_iss_parameter_supported")?
                .unwrap_or(false),
        })
    }

    fn check(&self, configured_issuer: &str) -> Result<(), OAuthError> {
        if self.issuer != configured_issuer {
            return Err(OAuthError::IssuerMismatch);
        }
        check_issuer(&self.issuer)?;
        check_endpoint(&self.authorization_endpoint, "authorization_endpoint")?;
        check_endpoint(&self.token_endpoint, "token_endpoint")?;
        for (member, url) in [
            ("jwks_uri", &self.jwks_uri),
            ("revocation_endpoint", &self.revocation_endpoint),
            ("end_session_endpoint", &self.end_session_endpoint),
            ("userinfo_endpoint", &self.userinfo_endpoint),
        ] {
            if let Some(url) = url {
                check_endpoint(url, member)?;
            }
        }
        if let Some(methods) = &self.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(OAuthError::PkceNotSupported);
            }
        }
        if let Some(types) = &self.response_types_supported {
            if !types.iter().any(|t| t == "code") {
                return Err(OAuthError::InvalidMetadata {
                    reason: "response_types_supported does not include \"code\"",
                });
            }
        }
        Ok(())
    }

    /// The endpoint for `member`, or [`OAuthError::EndpointNotOffered`].
    pub(crate) fn require<'a>(
        url: &'a Option<String>,
        member: &'static str,
    ) -> Result<&'a str, OAuthError> {
        url.as_deref()
            .ok_or(OAuthError::EndpointNotOffered { member })
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    pub(crate) fn document(issuer: &str) -> String {
        format!(
            r#"{{"issuer":"{issuer}","authorization_endpoint":"{issuer}/auth",
            "token_endpoint":"{issuer}/token","jwks_uri":"{issuer}/jwks",
            "revocation_endpoint":"{issuer}/token/revocation",
            "end_session_endpoint":"{issuer}/session/end",
            "code_challenge_methods_supported":["S256"],
            "response_types_supported":["code"],
            "authorization_response_iss_parameter_supported":true,
            "claims_supported":["sub"]}}"#
        )
    }

    #[test]
    fn discovery_urls_follow_oidc_then_rfc8414() {
        assert_eq!(
            discovery_urls("https://idp.example").unwrap(),
            [
                "https://idp.example/.well-known/openid-configuration",
                "https://idp.example/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            discovery_urls("https://idp.example/realms/app/").unwrap(),
            [
                "https://idp.example/realms/app/.well-known/openid-configuration",
                "https://idp.example/.well-known/oauth-authorization-server/realms/app",
            ]
        );
        assert_eq!(
            discovery_urls("http://idp.example"),
            Err(OAuthError::InsecureEndpoint { member: "issuer" })
        );
    }

    #[test]
    fn accepts_a_matching_document() {
        let issuer = "https://idp.example";
        let metadata = ProviderMetadata::parse(&document(issuer), issuer).unwrap();
        assert_eq!(metadata.token_endpoint, "https://idp.example/token");
        assert!(metadata.authorization_response_iss_parameter_supported);
    }

    #[test]
    fn issuer_must_match_exactly() {
        let doc = document("https://idp.example");
        for configured in [
            "https://idp.example/",
            "https://IDP.example",
            "https://idp.example/other",
        ] {
            assert_eq!(
                ProviderMetadata::parse(&doc, configured),
                Err(OAuthError::IssuerMismatch),
                "{configured}"
            );
        }
    }

    #[test]
    fn refuses_insecure_endpoints_and_missing_pkce() {
        let issuer = "https://idp.example";
        let doc = document(issuer).replace(
            "\"https://idp.example/token\"",
            "\"http://idp.example/token\"",
        );
        assert_eq!(
            ProviderMetadata::parse(&doc, issuer),
            Err(OAuthError::InsecureEndpoint {
                member: "token_endpoint"
            })
        );
        let doc = document(issuer).replace("[\"S256\"]", "[\"plain\"]");
        assert_eq!(
            ProviderMetadata::parse(&doc, issuer),
            Err(OAuthError::PkceNotSupported)
        );
        let doc = document(issuer).replace("\"token_endpoint\"", "\"x_token_endpoint\"");
        assert_eq!(
            ProviderMetadata::parse(&doc, issuer).unwrap_err().code(),
            "ERR_OAUTH_INVALID_METADATA"
        );
        let doc = document(issuer).replace("[\"S256\"]", "\"S256\"");
        assert_eq!(
            ProviderMetadata::parse(&doc, issuer).unwrap_err().code(),
            "ERR_OAUTH_INVALID_METADATA",
            "a member of the wrong type is refused"
        );
        // Loopback http is the development exception.
        let local = "http://127.0.0.1:4000";
        assert!(ProviderMetadata::parse(&document(local), local).is_ok());
    }
}
