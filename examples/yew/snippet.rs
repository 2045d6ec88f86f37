use std::rc::Rc;

use tokenwarden::web::{Config, Error, Event, SessionState, Subscription, TokenManager};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// Create the manager once, in the root component, and share it below with
/// `ContextProvider<Rc<TokenManager>>` (read it back with `use_context`).
pub fn token_manager() -> Result<Rc<TokenManager>, Error> {
    let mut config = Config::new("/auth/refresh"); // refresh token in an HttpOnly cookie
    config.login_url = Some("/auth/login".into());
    config.logout_url = Some("/auth/logout".into());
    TokenManager::new(config).map(Rc::new)
}

/// In `use_effect_with((), ...)`: mirror the state into a `use_state` handle, and return
/// `move || drop(subscription)` as the effect's cleanup.
pub fn watch_state(tm: &TokenManager, set_state: impl Fn(SessionState) + 'static) -> Subscription {
    set_state(tm.state());
    tm.subscribe(move |event| {
        if let Event::Changed(state) = event {
            set_state(*state);
        }
    })
}

#[derive(serde::Serialize)]
struct Credentials<'a> {
    username: &'a str,
    password: &'a str,
}

/// The login form's `onsubmit`: `spawn_local(async move { log_in(&tm, &user, &pass).await; })`.
pub async fn log_in(tm: &TokenManager, username: &str, password: &str) -> Result<(), Error> {
    // Err(e): e.code() == "ERR_LOGIN_FAILED", e.status() == Some(401) for a wrong password.
    tm.login_with(&Credentials { username, password }).await
}

/// Any API call: the token is attached (allowed origins only), refreshed before expiry, and a
/// 401 `invalid_token` is answered by one refresh and one retry.
pub async fn load_profile(tm: &TokenManager) -> Result<JsValue, String> {
    let response = tm.fetch_url("/api/me").await.map_err(|e| e.to_string())?;
    if !response.ok() {
        return Err(format!("GET /api/me answered {}", response.status()));
    }
    let body = response.json().map_err(|_| "no body".to_string())?;
    JsFuture::from(body)
        .await
        .map_err(|_| "not JSON".to_string())
}

/// With an identity provider instead (Auth0, Okta, Keycloak, Entra ID...): the OAuth profile.
/// A login button calls `log_in_with_provider`; the component at the redirect URI's route calls
/// `finish_login` once on mount, then routes on.
pub fn oauth_manager() -> Result<Rc<TokenManager>, Error> {
    let mut client = tokenwarden::web::OAuthConfig::new(
        "https://YOUR_TENANT.us.auth0.com/", // exactly the discovery document's `issuer`
        "YOUR_SPA_CLIENT_ID",
        "https://app.example.com/callback",
    );
    client.audience = Some("https://api.example.com".into()); // or `client.resource`
    let mut config = Config::oauth(client);
    config.allowed_origins = vec!["https://api.example.com".into()];
    TokenManager::new(config).map(Rc::new)
}

/// Navigates to the provider (authorization code with PKCE).
pub async fn log_in_with_provider(tm: &TokenManager) -> Result<(), Error> {
    tm.login_with_redirect(tokenwarden::web::LoginOptions::default())
        .await
}

/// At the redirect URI. Err(e): e.code() is "ERR_OAUTH_ACCESS_DENIED" (the user said no),
/// "ERR_OAUTH_STATE_MISMATCH" (not the answer to this browser's login), ...
pub async fn finish_login(tm: &TokenManager) -> Result<(), Error> {
    tm.handle_redirect_callback(None).await
}
