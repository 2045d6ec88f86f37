//! Several APIs, one login (`oauth.resources` in the npm package): each API has a token of its
//! own, obtained with the `refresh_token` grant and its RFC 8707 `resource` (or Auth0's
//! `audience`). The login's refresh token is granted for all of them (the authorization request
//! names every `resource` and asks for every API's scope); the shell refreshes the APIs' tokens
//! with the session's, one grant after the other, each with the refresh token the previous one
//! returned, so that one rotation happens at a time.

use crate::prelude::*;

use crate::core::oauth::metadata::ProviderMetadata;
use crate::core::oauth::token::{refresh_request, FormRequest};
use crate::core::oauth::url::form_encode;
use crate::core::secret::Secret;

/// A login's `scope` with the scopes of `api_scope` (space-separated) it lacks, each once, in
/// order: the login asks for the APIs' scopes too, so that its refresh token is granted for them.
pub fn login_scope(scope: &str, api_scope: Option<&str>) -> String {
    let mut out = String::from(scope);
    for part in api_scope.unwrap_or("").split(' ').filter(|p| !p.is_empty()) {
        if !out.split(' ').any(|have| have == part) {
            out.push(' ');
            out.push_str(part);
        }
    }
    out
}

/// The `refresh_token` grant for one API: the refresh request (RFC 6749 §6) with the API's
/// `resource` (RFC 8707 §2.2), or `audience` when `param` says so (Auth0), and its `scope`; an
/// empty `value` sends the scope alone (Entra ID, where the scope names the API).
pub fn api_refresh_request(
    metadata: &ProviderMetadata,
    client_id: &str,
    refresh_token: &Secret,
    param: &str,
    value: &str,
    scope: Option<&str>,
) -> FormRequest {
    let request = refresh_request(metadata, client_id, refresh_token, scope);
    if value.is_empty() {
        // Only a scope (Entra ID: the scope names the API).
        return request;
    }
    let param = if param == "audience" {
        "audience"
    } else {
        "resource"
    };
    let mut body = String::from(request.body.expose());
    body.push('&');
    body.push_str(&form_encode([(param, value)]));
    FormRequest {
        url: request.url,
        body: Secret::new(body),
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::core::oauth::tests::metadata;

    #[test]
    fn a_login_asks_for_the_apis_scopes_once_even_with_its_own_scope() {
        use crate::core::oauth::authorize::{authorization_request, LoginOptions};
        use crate::core::oauth::tests::{config, query, random};
        assert_eq!(login_scope("openid", None), "openid");
        assert_eq!(
            login_scope("openid a:read", Some("a:read b:read  c:write")),
            "openid a:read b:read c:write"
        );
        let mut config = config();
        config.api_scope = Some("orders:read openid".into());
        for (options, want) in [
            (
                LoginOptions::default(),
                "openid profile email offline_access orders:read",
            ),
            (
                LoginOptions {
                    scope: Some("openid".into()),
                    ..LoginOptions::default()
                },
                "openid orders:read",
            ),
        ] {
            let request =
                authorization_request(&metadata(), &config, &options, &random(1), 0).unwrap();
            assert_eq!(query(&request.url)["scope"], want);
        }
    }

    #[test]
    fn each_api_is_refreshed_with_its_own_indicator_and_scope() {
        let token = Secret::from("rt-1");
        let m = metadata();
        let request = api_refresh_request(
            &m,
            "spa",
            &token,
            "resource",
            "https://a.example/",
            Some("a:read"),
        );
        assert_eq!(request.url, m.token_endpoint);
        assert_eq!(
            request.body.expose(),
            "grant_type=refresh_token&refresh_token=rt-1&client_id=spa&scope=a%3Aread\
             &resource=https%3A%2F%2Fa.example%2F"
        );
        let request = api_refresh_request(&m, "spa", &token, "audience", "orders", None);
        assert_eq!(
            request.body.expose(),
            "grant_type=refresh_token&refresh_token=rt-1&client_id=spa&audience=orders"
        );
        // Any other name is a resource indicator: a caller cannot add another parameter.
        let request = api_refresh_request(&m, "spa", &token, "client_id", "x", None);
        assert!(request.body.expose().ends_with("&resource=x"));
        let scope = Some("api://b/.default");
        let request = api_refresh_request(&m, "spa", &token, "resource", "", scope);
        assert_eq!(
            request.body.expose(),
            "grant_type=refresh_token&refresh_token=rt-1&client_id=spa&scope=api%3A%2F%2Fb%2F.default"
        );
    }
}
