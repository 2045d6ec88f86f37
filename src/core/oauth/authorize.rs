//! The client configuration and the authorization request: state, nonce and a PKCE S256 code
//! verifier made from caller-supplied random bytes, and the URL to navigate to.

use crate::prelude::*;

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::core::b64;
use crate::core::error::decimal;
use crate::core::oauth::api::login_scope;
use crate::core::oauth::error::OAuthError;
use crate::core::oauth::metadata::ProviderMetadata;
use crate::core::oauth::transaction::Transaction;
use crate::core::oauth::url::{check_endpoint, check_issuer, with_query};
use crate::core::secret::Secret;
use crate::core::time::{whole_within, MAX_DURATION_SECS};

/// The scope asked for when the configuration names none: an ID token, the profile, and a
/// refresh token (`offline_access`; see the README's provider settings for providers that differ).
pub const DEFAULT_SCOPE: &str = "openid profile email offline_access";

/// A public client registered at an OAuth 2.0 / OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The issuer identifier, exactly as the provider's metadata spells it.
    pub issuer: String,
    /// The client id (a public client: no secret).
    pub client_id: String,
    /// The redirect URI registered for the client; the callback must arrive there.
    pub redirect_uri: String,
    /// The scope of every login unless a login overrides it.
    pub scope: String,
    /// RFC 8707 resource indicators: the APIs access tokens are for.
    pub resource: Vec<String>,
    /// `audience`, the non-standard spelling of a resource some providers (Auth0) use.
    pub audience: Option<String>,
    /// Where the provider sends the browser after logout at its `end_session_endpoint`.
    pub post_logout_redirect_uri: Option<String>,
    /// The scopes of the APIs the login's refresh token must be granted for (the npm package's
    /// `resources`, space-separated): added to every login's scope (see [`login_scope`]).
    pub api_scope: Option<String>,
}

impl ClientConfig {
    /// A configuration with [`DEFAULT_SCOPE`] and no resource.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scope: DEFAULT_SCOPE.into(),
            resource: Vec::new(),
            audience: None,
            post_logout_redirect_uri: None,
            api_scope: None,
        }
    }

    /// Checks the configuration: a secure issuer, a non-empty client id, redirect URIs that are
    /// `https` (or loopback `http`) without fragment.
    pub fn check(&self) -> Result<(), OAuthError> {
        check_issuer(&self.issuer)?;
        if self.client_id.is_empty() {
            return Err(OAuthError::InvalidConfig {
                reason: "client_id is empty",
            });
        }
        check_endpoint(&self.redirect_uri, "redirect_uri")?;
        if let Some(uri) = &self.post_logout_redirect_uri {
            check_endpoint(uri, "post_logout_redirect_uri")?;
        }
        if self.scope.split(' ').any(str::is_empty) {
            return Err(OAuthError::InvalidConfig {
                reason: "scope is empty or has repeated spaces",
            });
        }
        Ok(())
    }
}

/// Per-login options (`loginWithRedirect({...})`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginOptions {
    /// Overrides [`ClientConfig::scope`] for this login.
    pub scope: Option<String>,
    /// `prompt` (`login`, `consent`, `none`, `select_account`, ...).
    pub prompt: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// `max_age` in seconds: the ID token's `auth_time` is then checked against it.
    pub max_age: Option<u64>,
    /// Other parameters for the provider (e.g. `ui_locales`, `organization`). The parameters the
    /// profile sets itself are refused here.
    pub extra: Vec<(String, String)>,
    /// This login's redirect URI instead of [`ClientConfig::redirect_uri`] (a login popup's
    /// callback page, registered at the provider too); checked like it, and kept in the
    /// transaction so that the callback and the code exchange use it.
    pub redirect_uri: Option<String>,
}

impl LoginOptions {
    /// Whether the options are ones to send (checked by [`authorization_request`] too):
    /// `max_age` within ten years ([`MAX_DURATION_SECS`](crate::core::time::MAX_DURATION_SECS)),
    /// no extra parameter that the profile sets itself (or without a name).
    pub fn check(&self) -> Result<(), OAuthError> {
        if self
            .max_age
            .is_some_and(|secs| secs > MAX_DURATION_SECS as u64)
        {
            return Err(max_age_out_of_range());
        }
        if self
            .extra
            .iter()
            .any(|(name, _)| RESERVED.contains(&name.as_str()) || name.is_empty())
        {
            return Err(OAuthError::InvalidConfig {
                reason: "an extra parameter repeats one the login sets itself",
            });
        }
        Ok(())
    }

    /// `max_age` given as a number (an application's, from JS): whole seconds within
    /// [`LoginOptions::check`]'s range (a fraction is cut off).
    pub fn max_age_of(value: f64) -> Result<u64, OAuthError> {
        whole_within(value, 0, MAX_DURATION_SECS as u64).ok_or_else(max_age_out_of_range)
    }
}

fn max_age_out_of_range() -> OAuthError {
    OAuthError::OptionOutOfRange {
        option: "maxAge",
        min: 0,
        max: MAX_DURATION_SECS as u64,
    }
}

/// How long a popup login (`loginWithPopup`) waits for the provider's answer unless told
/// otherwise: 120 s.
pub const POPUP_TIMEOUT_SECS: u64 = 120;

/// The longest wait a popup login may be given (its `timeoutInSeconds`): a day.
pub const MAX_POPUP_TIMEOUT_SECS: u64 = 86_400;

/// How often a waiting popup login looks whether its manager was freed (ms).
pub const POPUP_POLL_MS: u64 = 1_000;

/// A popup login's wait for the provider's answer, in ms, from its `timeoutInSeconds` option
/// (a number from JS; `None`: [`POPUP_TIMEOUT_SECS`]), within `1..=`[`MAX_POPUP_TIMEOUT_SECS`].
pub fn popup_timeout_ms(timeout_secs: Option<f64>) -> Result<u64, OAuthError> {
    let secs = match timeout_secs {
        None => POPUP_TIMEOUT_SECS,
        Some(value) => {
            whole_within(value, 1, MAX_POPUP_TIMEOUT_SECS).ok_or(OAuthError::OptionOutOfRange {
                option: "timeoutInSeconds",
                min: 1,
                max: MAX_POPUP_TIMEOUT_SECS,
            })?
        }
    };
    Ok(secs * 1_000)
}

/// Parameters only the profile may set: letting a caller override them would break state,
/// PKCE, nonce or callback handling.
const RESERVED: &[&str] = &[
    "response_type",
    "response_mode",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "resource",
    "audience",
    "prompt",
    "login_hint",
    "max_age",
    "request",
    "request_uri",
];

/// The random bytes of one login, from `crypto.getRandomValues` (or any CSPRNG). They are
/// wiped when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct LoginRandomness {
    /// Bytes of `state` (256 bits).
    pub state: [u8; 32],
    /// Bytes of `nonce` (256 bits).
    pub nonce: [u8; 32],
    /// Bytes of the PKCE `code_verifier` (256 bits, 43 characters: RFC 7636 §4.1).
    pub code_verifier: [u8; 32],
}

impl LoginRandomness {
    /// Splits 96 random bytes into state, nonce and verifier.
    pub fn from_bytes(bytes: &[u8; 96]) -> Self {
        let mut random = Self {
            state: [0; 32],
            nonce: [0; 32],
            code_verifier: [0; 32],
        };
        random.state.copy_from_slice(&bytes[..32]);
        random.nonce.copy_from_slice(&bytes[32..64]);
        random.code_verifier.copy_from_slice(&bytes[64..]);
        random
    }
}

impl core::fmt::Debug for LoginRandomness {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LoginRandomness(<redacted>)")
    }
}

/// The PKCE S256 `code_challenge` of a verifier: `BASE64URL(SHA-256(ASCII(verifier)))`
/// (RFC 7636 §4.2).
///
/// ```
/// // RFC 7636 Appendix B.
/// let challenge = tokenwarden::core::oauth::code_challenge_s256(
///     "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
/// assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
/// ```
pub fn code_challenge_s256(code_verifier: &str) -> String {
    b64::encode(&Sha256::digest(code_verifier.as_bytes()))
}

/// The URL to send the browser to, and the transaction to keep until the callback.
#[derive(Debug)]
pub struct AuthorizationRequest {
    /// The authorization endpoint with the request's parameters. It holds no secret: the
    /// verifier stays in the transaction, only its hash travels.
    pub url: String,
    /// What the callback needs; store it with [`Transaction::to_storage`].
    pub transaction: Transaction,
}

/// Builds the authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1) for a
/// login started at `now_ms` (Unix ms).
///
/// A `nonce` is sent (and later required in the ID token) when the scope includes `openid`.
pub fn authorization_request(
    metadata: &ProviderMetadata,
    config: &ClientConfig,
    options: &LoginOptions,
    random: &LoginRandomness,
    now_ms: u64,
) -> Result<AuthorizationRequest, OAuthError> {
    let challenge = code_challenge_s256(code_verifier_of(random).expose());
    authorization_request_with_challenge(metadata, config, options, random, &challenge, now_ms)
}

/// The PKCE `code_verifier` that [`authorization_request`] derives from `random`: hash it
/// (SHA-256, base64url) and pass the result to [`authorization_request_with_challenge`]. The
/// browser build hashes with WebCrypto (`crypto.subtle.digest`), so it links no SHA-256 code.
pub fn code_verifier_of(random: &LoginRandomness) -> Secret {
    Secret::new(b64::encode(&random.code_verifier))
}

/// [`authorization_request`] with the S256 `code_challenge` of [`code_verifier_of`]`(random)`
/// computed by the caller. A challenge that is not 43 base64url characters (a SHA-256 digest)
/// is refused.
pub fn authorization_request_with_challenge(
    metadata: &ProviderMetadata,
    config: &ClientConfig,
    options: &LoginOptions,
    random: &LoginRandomness,
    code_challenge: &str,
    now_ms: u64,
) -> Result<AuthorizationRequest, OAuthError> {
    if code_challenge.len() != 43 || b64::decode(code_challenge, "code_challenge").is_err() {
        return Err(OAuthError::InvalidConfig {
            reason: "code_challenge is not a base64url SHA-256 digest",
        });
    }
    config.check()?;
    options.check()?;
    if metadata.issuer != config.issuer {
        return Err(OAuthError::IssuerMismatch);
    }
    let redirect_uri = match &options.redirect_uri {
        Some(uri) => {
            check_endpoint(uri, "redirect_uri")?;
            uri
        }
        None => &config.redirect_uri,
    };
    let scope = options.scope.as_deref().unwrap_or(&config.scope);
    let scope = &login_scope(scope, config.api_scope.as_deref());
    if scope.split(' ').any(str::is_empty) {
        return Err(OAuthError::InvalidConfig {
            reason: "scope is empty or has repeated spaces",
        });
    }
    let openid = scope.split(' ').any(|s| s == "openid");
    let state = b64::encode(&random.state);
    let nonce = openid.then(|| b64::encode(&random.nonce));
    let code_verifier = code_verifier_of(random);
    let max_age = options.max_age.map(decimal);

    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &config.client_id),
        ("redirect_uri", redirect_uri),
        ("scope", scope),
        ("state", &state),
    ];
    if let Some(nonce) = &nonce {
        params.push(("nonce", nonce));
    }
    params.push(("code_challenge", code_challenge));
    params.push(("code_challenge_method", "S256"));
    params.extend(config.resource.iter().map(|r| ("resource", r.as_str())));
    let optional = [
        ("audience", config.audience.as_deref()),
        ("prompt", options.prompt.as_deref()),
        ("login_hint", options.login_hint.as_deref()),
        ("max_age", max_age.as_deref()),
    ];
    params.extend(optional.iter().filter_map(|(n, v)| v.map(|v| (*n, v))));
    params.extend(options.extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));

    let url = with_query(&metadata.authorization_endpoint, params);
    let transaction = Transaction {
        issuer: config.issuer.clone(),
        client_id: config.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        state,
        nonce,
        code_verifier,
        created_at_ms: now_ms,
        max_age: options.max_age,
    };
    Ok(AuthorizationRequest { url, transaction })
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::core::oauth::tests::{config, metadata, query, random};

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        // The verifier of Appendix B is the base64url of these 32 octets.
        let octets = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let verifier = b64::encode(&octets);
        assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            code_challenge_s256(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn builds_the_request_with_state_nonce_and_challenge() {
        let mut config = config();
        config.resource = vec!["https://api.example".into()];
        let options = LoginOptions {
            prompt: Some("consent".into()),
            login_hint: Some("a b@example.com".into()),
            max_age: Some(300),
            extra: vec![("ui_locales".into(), "de".into())],
            ..LoginOptions::default()
        };
        let request =
            authorization_request(&metadata(), &config, &options, &random(7), 1_000).unwrap();
        assert!(request
            .url
            .starts_with("https://idp.example/auth?response_type=code&"));
        let params = query(&request.url);
        let tx = &request.transaction;
        assert_eq!(params["client_id"], "spa");
        assert_eq!(params["redirect_uri"], "https://app.example/callback");
        assert_eq!(params["scope"], DEFAULT_SCOPE);
        assert_eq!(params["state"], tx.state);
        assert_eq!(Some(&params["nonce"]), tx.nonce.as_ref());
        assert_eq!(params["code_challenge_method"], "S256");
        assert_eq!(
            params["code_challenge"],
            code_challenge_s256(tx.code_verifier.expose())
        );
        assert_eq!(params["resource"], "https://api.example");
        assert_eq!(params["prompt"], "consent");
        assert_eq!(params["login_hint"], "a b@example.com");
        assert_eq!(params["max_age"], "300");
        assert_eq!(params["ui_locales"], "de");
        assert_eq!(tx.state.len(), 43);
        assert_eq!(tx.code_verifier.len(), 43);
        assert!(!request.url.contains(tx.code_verifier.expose()));
        assert_ne!(
            tx.state,
            *tx.nonce.as_ref().unwrap(),
            "independent random values"
        );
        assert_eq!(tx.created_at_ms, 1_000);
        assert_eq!(tx.max_age, Some(300));
    }

    #[test]
    fn max_age_and_the_popup_wait_are_bounded() {
        let ten_years = MAX_DURATION_SECS as u64;
        let refused = |option, min, max| OAuthError::OptionOutOfRange { option, min, max };
        // Both shells: the Rust API's typed options, and numbers from JS.
        let options = |max_age| LoginOptions {
            max_age: Some(max_age),
            ..LoginOptions::default()
        };
        assert_eq!(options(ten_years).check(), Ok(()));
        let too_long = options(ten_years + 1);
        assert_eq!(too_long.check(), Err(refused("maxAge", 0, ten_years)));
        assert_eq!(
            authorization_request(&metadata(), &config(), &too_long, &random(1), 0).unwrap_err(),
            refused("maxAge", 0, ten_years)
        );
        assert_eq!(LoginOptions::max_age_of(300.9), Ok(300));
        assert_eq!(LoginOptions::max_age_of(0.0), Ok(0));
        for bad in [-1.0, f64::NAN, f64::INFINITY, ten_years as f64 + 1.0] {
            assert_eq!(
                LoginOptions::max_age_of(bad),
                Err(refused("maxAge", 0, ten_years)),
                "{bad}"
            );
        }
        let error = refused("maxAge", 0, ten_years);
        assert_eq!(error.code(), "ERR_INVALID_OPTIONS");
        assert_eq!(
            error.message(),
            "option \"maxAge\" must be a number from 0 to 316224000"
        );
        assert_eq!(popup_timeout_ms(None), Ok(120_000));
        assert_eq!(popup_timeout_ms(Some(1.5)), Ok(1_000));
        assert_eq!(popup_timeout_ms(Some(86_400.0)), Ok(86_400_000));
        for bad in [0.5, 86_401.0, f64::NAN, -1.0] {
            assert_eq!(
                popup_timeout_ms(Some(bad)),
                Err(refused("timeoutInSeconds", 1, 86_400)),
                "{bad}"
            );
        }
        assert_eq!(
            refused("timeoutInSeconds", 1, 86_400).message(),
            "option \"timeoutInSeconds\" must be a number from 1 to 86400"
        );
    }

    #[test]
    fn a_login_may_answer_at_its_own_redirect_uri() {
        // loginWithPopup's callback page: in the request, the transaction, the code exchange.
        let options = LoginOptions {
            redirect_uri: Some("https://app.example/popup.html".into()),
            ..LoginOptions::default()
        };
        let request =
            authorization_request(&metadata(), &config(), &options, &random(1), 0).unwrap();
        assert_eq!(
            query(&request.url)["redirect_uri"],
            "https://app.example/popup.html"
        );
        assert_eq!(
            request.transaction.redirect_uri,
            "https://app.example/popup.html"
        );
        let insecure = LoginOptions {
            redirect_uri: Some("http://app.example/popup.html".into()),
            ..LoginOptions::default()
        };
        let err = authorization_request(&metadata(), &config(), &insecure, &random(1), 0);
        assert_eq!(err.unwrap_err().code(), "ERR_OAUTH_INSECURE_ENDPOINT");
    }

    #[test]
    fn no_nonce_without_openid_and_reserved_parameters_are_refused() {
        let options = LoginOptions {
            scope: Some("api:read offline_access".into()),
            ..LoginOptions::default()
        };
        let request =
            authorization_request(&metadata(), &config(), &options, &random(1), 0).unwrap();
        assert!(!query(&request.url).contains_key("nonce"));
        assert_eq!(request.transaction.nonce, None);

        for name in [
            "state",
            "code_challenge",
            "redirect_uri",
            "response_mode",
            "",
        ] {
            let options = LoginOptions {
                extra: vec![(name.into(), "x".into())],
                ..LoginOptions::default()
            };
            assert_eq!(
                authorization_request(&metadata(), &config(), &options, &random(1), 0)
                    .unwrap_err()
                    .code(),
                "ERR_OAUTH_INVALID_CONFIG",
                "{name}"
            );
        }
        let mut other = config();
        other.issuer = "https://other.example".into();
        assert_eq!(
            authorization_request(&metadata(), &other, &LoginOptions::default(), &random(1), 0)
                .unwrap_err(),
            OAuthError::IssuerMismatch
        );
        let mut insecure = config();
        insecure.redirect_uri = "http://app.example/callback".into();
        assert_eq!(
            authorization_request(
                &metadata(),
                &insecure,
                &LoginOptions::default(),
                &random(1),
                0
            )
            .unwrap_err(),
            OAuthError::InsecureEndpoint {
                member: "redirect_uri"
            }
        );
    }

    #[test]
    fn a_challenge_from_the_caller_is_used_as_given_and_checked() {
        let random = random(3);
        let challenge = code_challenge_s256(code_verifier_of(&random).expose());
        let ours =
            authorization_request(&metadata(), &config(), &LoginOptions::default(), &random, 5)
                .unwrap();
        let theirs = authorization_request_with_challenge(
            &metadata(),
            &config(),
            &LoginOptions::default(),
            &random,
            &challenge,
            5,
        )
        .unwrap();
        assert_eq!(ours.url, theirs.url);
        for bad in [
            "",
            "short",
            &format!("{}=", &challenge[..42]),
            &format!("{challenge}A"),
        ] {
            assert_eq!(
                authorization_request_with_challenge(
                    &metadata(),
                    &config(),
                    &LoginOptions::default(),
                    &random,
                    bad,
                    5
                )
                .unwrap_err()
                .code(),
                "ERR_OAUTH_INVALID_CONFIG",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn randomness_is_redacted_and_split() {
        let bytes: [u8; 96] = core::array::from_fn(|i| i as u8);
        let random = LoginRandomness::from_bytes(&bytes);
        assert_eq!(random.nonce[0], 32);
        assert_eq!(random.code_verifier[31], 95);
        assert_eq!(format!("{random:?}"), "LoginRandomness(<redacted>)");
    }
}
