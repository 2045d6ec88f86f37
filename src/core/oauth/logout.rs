//! The logout redirect (OpenID Connect RP-Initiated Logout 1.0).

use crate::prelude::*;

use crate::core::oauth::error::OAuthError;
use crate::core::oauth::metadata::ProviderMetadata;
use crate::core::oauth::url::{check_endpoint, with_query};
use crate::core::secret::Secret;

/// The `end_session_endpoint` URL with `id_token_hint`, `client_id`, `post_logout_redirect_uri`
/// and `state`. The ID token is the hint the specification asks for; it is not a credential for
/// any API, but the URL lands in the provider's logs, so send it only where the provider needs
/// it. Fails with [`OAuthError::EndpointNotOffered`] when the provider has no such endpoint.
pub fn end_session_url(
    metadata: &ProviderMetadata,
    client_id: &str,
    id_token_hint: Option<&Secret>,
    post_logout_redirect_uri: Option<&str>,
    state: Option<&str>,
) -> Result<String, OAuthError> {
    let endpoint =
        ProviderMetadata::require(&metadata.end_session_endpoint, "end_session_endpoint")?;
    if let Some(uri) = post_logout_redirect_uri {
        check_endpoint(uri, "post_logout_redirect_uri")?;
    }
    let mut params = Vec::new();
    if let Some(hint) = id_token_hint {
        params.push(("id_token_hint", hint.expose()));
    }
    params.push(("client_id", client_id));
    if let Some(uri) = post_logout_redirect_uri {
        params.push(("post_logout_redirect_uri", uri));
    }
    if let Some(state) = state {
        params.push(("state", state));
    }
    Ok(with_query(endpoint, params))
}
