//! The README's Yew quick start with an identity provider instead of the reference server's
//! cookie dialect: compiled with the app (so the quoted code cannot rot), not called by it.
#![allow(dead_code)]

use std::rc::Rc;

// ANCHOR: oauth
use tokenwarden::web::{Config, Error, LoginOptions, OAuthConfig, TokenManager};

/// With an identity provider (Auth0, Okta, Keycloak, Entra ID...): the OAuth profile. Provide
/// this manager with `ContextProvider<Auth>` as above; the rest of the app is the same.
pub fn oauth_manager() -> Result<Rc<TokenManager>, Error> {
    let mut client = OAuthConfig::new(
        "https://YOUR_TENANT.us.auth0.com/", // exactly the discovery document's `issuer`
        "YOUR_SPA_CLIENT_ID",
        "https://app.example.com/callback",
    );
    client.audience = Some("https://api.example.com".into()); // or `client.resource`
    let mut config = Config::oauth(client);
    config.allowed_origins = vec!["https://api.example.com".into()];
    TokenManager::new(config).map(Rc::new)
}

/// A login button's `onclick` spawns this: it navigates to the provider (authorization code
/// with PKCE).
pub async fn log_in_with_provider(tm: Rc<TokenManager>) -> Result<(), Error> {
    tm.login_with_redirect(LoginOptions::default()).await
}

/// The component at the redirect URI's route spawns this once, in `use_effect_with((), ...)`,
/// then routes on. Err(e): e.code() is "ERR_OAUTH_ACCESS_DENIED" (the user said no),
/// "ERR_OAUTH_STATE_MISMATCH" (not the answer to this browser's login), ...
pub async fn finish_login(tm: Rc<TokenManager>) -> Result<(), Error> {
    tm.handle_redirect_callback(None).await
}
// ANCHOR_END: oauth
