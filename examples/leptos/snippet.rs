use std::rc::Rc;

use tokenwarden::web::{Config, Event, LogoutReason, SessionState, Subscription, TokenManager};
use wasm_bindgen::JsValue;

/// In the root component: create the manager once. It is single-threaded (`!Send`), like
/// everything in the browser, so keep it in Leptos's local storage:
/// `let tm = StoredValue::new_local(manager());` and pass `tm` down (it is `Copy`).
pub fn manager() -> Rc<TokenManager> {
    let mut config = Config::new("/auth/refresh");
    config.login_url = Some("/auth/login".into());
    config.logout_url = Some("/auth/logout".into());
    config.allowed_origins = vec!["https://api.example.com".into()]; // default: the page's origin
    Rc::new(TokenManager::new(config).expect("valid tokenwarden config"))
}

/// Once at start-up (`spawn_local(async move { restore(tm).await; })`): a reload lost the
/// in-memory token, and the HttpOnly refresh cookie brings the session back without a login.
pub async fn restore(tm: Rc<TokenManager>) -> bool {
    tm.start().await
}

/// Feeds signals: `let (state, set_state) = signal(SessionState::Anonymous);` then
/// `follow(&tm, move |s| set_state.set(s), move |why| /* back to the login page */)`; keep the
/// guard for the component's life (`StoredValue::new_local(guard)`) or `.detach()` it at the root.
pub fn follow(
    tm: &TokenManager,
    on_state: impl Fn(SessionState) + 'static,
    on_logged_out: impl Fn(LogoutReason) + 'static,
) -> Subscription {
    on_state(tm.state());
    tm.subscribe(move |event| match event {
        Event::Changed(state) => on_state(*state),
        Event::LoggedOut { reason } => on_logged_out(*reason), // InvalidGrant: revoked or expired
        _ => {}
    })
}

#[derive(serde::Deserialize)]
pub struct MyClaims {
    pub sub: String,
    pub scope: String,
}

/// For display only (decoded, not verified): who is logged in and what they may do.
pub fn who(tm: &TokenManager) -> Option<MyClaims> {
    tm.claims::<MyClaims>().ok().flatten()
}

/// An `Action` or `LocalResource` body: a POST through the manager.
pub async fn add_item(tm: Rc<TokenManager>, json: &str) -> Result<u16, String> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(json));
    let request = web_sys::Request::new_with_str_and_init("https://api.example.com/items", &init)
        .map_err(|_| "bad request".to_string())?;
    let _ = request.headers().set("content-type", "application/json");
    let response = tm
        .fetch(request)
        .await
        .map_err(|e| format!("{} ({})", e.message(), e.code()))?;
    Ok(response.status())
}

/// The logout button: wipes the tokens at once, then asks the server to revoke them.
pub async fn log_out(tm: Rc<TokenManager>) {
    tm.logout().await;
}

/// With an identity provider (`Config::oauth`): after a reload there is no refresh token in
/// memory; `start()` adopts a sibling tab's session, else the provider is asked again (its own
/// session cookie usually makes that redirect silent).
pub async fn restore_or_log_in(tm: Rc<TokenManager>) -> Result<(), tokenwarden::web::Error> {
    if !tm.start().await {
        let options = tokenwarden::web::LoginOptions::default();
        tm.login_with_redirect(options).await?;
    }
    Ok(())
}
