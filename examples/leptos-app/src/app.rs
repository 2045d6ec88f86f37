//! The app's components. The parts between `ANCHOR` comments are quoted in the README.

use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use tokenwarden::web::{RefreshPolicy, SessionState};

// ANCHOR: manager
use gloo_net::http::Request;
use tokenwarden::web::{Config, Custody, Event, TokenManager};

/// Created once, in the root component. The manager is single-threaded (`!Send`), like
/// everything in the browser: keep it in Leptos's local storage with
/// `StoredValue::new_local(manager(...))` and pass that handle down (it is `Copy`).
pub fn manager(policy: RefreshPolicy, custody: Custody) -> Rc<TokenManager> {
    let mut config = Config::new("/auth/refresh");
    config.login_url = Some("/auth/login".into());
    config.logout_url = Some("/auth/logout".into());
    // Set and cleared by the reference server with the HttpOnly refresh cookie: a first visit
    // sends no refresh request that is bound to fail.
    config.session_hint = Some("__Host-tw_session".into());
    config.policy = policy;
    // `Custody::Worker { package_url: "/pkg/web/".into() }` keeps the tokens in a worker
    // started from the npm package's web/ files, served by the app (cargo feature
    // `worker-custody`); the rest of the app is the same.
    config.custody = custody;
    Rc::new(TokenManager::new(config).expect("valid tokenwarden config"))
}

/// Decoded, not verified: for display only. `claims::<T>()` reads the payload with the
/// browser's `JSON.parse` and serde-wasm-bindgen (cargo feature `serde-wasm-bindgen`).
#[derive(Clone, serde::Deserialize)]
pub struct MyClaims {
    pub sub: String,
    pub scope: String,
    pub exp: u64,
}
// ANCHOR_END: manager

// ANCHOR: requests
#[derive(Clone, serde::Deserialize)]
pub struct Item {
    pub id: u64,
    pub name: String,
}

#[derive(serde::Deserialize)]
struct ItemList {
    items: Vec<Item>,
}

#[derive(serde::Serialize)]
struct NewItem<'a> {
    name: &'a str,
}

/// A GET through the manager: gloo-net's request in, gloo-net's response out, with the token
/// attached, a refresh awaited if one is under way, and one retry after a 401 `invalid_token`.
pub async fn load_items(tm: Rc<TokenManager>) -> Result<Vec<Item>, String> {
    let request = Request::get("/api/items")
        .build()
        .map_err(|e| e.to_string())?;
    let response = tm.send(request).await.map_err(|e| e.to_string())?;
    if !response.ok() {
        return Err(format!("GET /api/items answered {}", response.status()));
    }
    let list: ItemList = response.json().await.map_err(|e| e.to_string())?;
    Ok(list.items)
}

/// A POST with a JSON body, the same way.
pub async fn add_item(tm: Rc<TokenManager>, name: String) -> Result<Item, String> {
    let request = Request::post("/api/items")
        .json(&NewItem { name: &name })
        .map_err(|e| e.to_string())?;
    let response = tm.send(request).await.map_err(|e| e.to_string())?;
    if !response.ok() {
        return Err(format!("POST /api/items answered {}", response.status()));
    }
    response.json().await.map_err(|e| e.to_string())
}
// ANCHOR_END: requests

/// Refresh timing from the page's query (`?minRefreshLeadMs=1500&minRefreshIntervalMs=1000`),
/// as on the demo page, so that short-lived tokens show silent refreshes quickly.
fn policy_from_query() -> RefreshPolicy {
    let mut policy = RefreshPolicy::default();
    let search = window().location().search().unwrap_or_default();
    for pair in search.trim_start_matches('?').split('&') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let Ok(ms) = value.parse::<u64>() else {
            continue;
        };
        match key {
            "minRefreshLeadMs" => policy.min_lead_ms = ms,
            "minRefreshIntervalMs" => policy.min_refresh_interval_ms = ms,
            "backoffInitialMs" => policy.backoff_initial_ms = ms,
            _ => {}
        }
    }
    policy
}

/// `?custody=worker`: the session in a worker started from the npm package's web/ files, which
/// the reference server serves at `/pkg/web/` (the demo page's switch does the same).
fn custody_from_query() -> Custody {
    let search = window().location().search().unwrap_or_default();
    match search
        .trim_start_matches('?')
        .split('&')
        .any(|pair| pair == "custody=worker")
    {
        true => Custody::Worker {
            package_url: "/pkg/web/".into(),
        },
        false => Custody::Page,
    }
}

fn state_name(state: SessionState) -> &'static str {
    match state {
        SessionState::Anonymous => "anonymous",
        SessionState::Authenticated => "authenticated",
        SessionState::Refreshing => "refreshing",
        SessionState::Expired => "expired",
    }
}

#[component]
pub fn App() -> impl IntoView {
    // ANCHOR: session
    let tm = StoredValue::new_local(manager(policy_from_query(), custody_from_query()));
    let state = RwSignal::new(SessionState::Anonymous);
    let claims = RwSignal::new(None::<MyClaims>);
    let next_refresh_at = RwSignal::new(None::<u64>);
    let notice = RwSignal::new(String::new());
    // The manager's events feed the signals; the root component lives as long as the app, so
    // the subscription is detached (elsewhere keep the guard: dropping it unsubscribes).
    let follow = move |tm: &TokenManager| {
        state.set(tm.state());
        claims.set(tm.claims::<MyClaims>().ok().flatten());
        next_refresh_at.set(tm.next_refresh_at());
    };
    tm.with_value(|manager| {
        follow(manager);
        manager
            .subscribe(move |event| {
                tm.with_value(|manager| follow(manager));
                match event {
                    Event::LoggedOut { reason } => {
                        notice.set(format!("logged out ({})", reason.as_str()))
                    }
                    Event::RefreshFailed { failure, .. } => {
                        notice.set(format!("a refresh failed ({failure:?}); retrying"))
                    }
                    _ => {}
                }
            })
            .detach();
    });
    // A reload lost the in-memory token: the HttpOnly refresh cookie restores the session.
    spawn_local(async move {
        tm.get_value().start().await;
    });
    // ANCHOR_END: session

    let now = RwSignal::new(js_sys::Date::now());
    if let Ok(ticker) = set_interval_with_handle(
        move || {
            now.set(js_sys::Date::now());
            tm.with_value(|manager| next_refresh_at.set(manager.next_refresh_at()));
        },
        Duration::from_millis(250),
    ) {
        on_cleanup(move || ticker.clear());
    }
    let countdown = move || match next_refresh_at.get() {
        Some(at) => format!("{:.1} s", ((at as f64 - now.get()) / 1000.0).max(0.0)),
        None => "no session".to_string(),
    };

    let items = RwSignal::new(Vec::<Item>::new());
    let api_status = RwSignal::new(String::new());
    let reload = move || {
        spawn_local(async move {
            match load_items(tm.get_value()).await {
                Ok(list) => {
                    items.set(list);
                    api_status.set("items loaded".into());
                }
                Err(error) => api_status.set(error),
            }
        })
    };

    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    // ANCHOR: login
    let log_in = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        #[derive(serde::Serialize)]
        struct Credentials {
            username: String,
            password: String,
        }
        let credentials = Credentials {
            username: username.get_untracked(),
            password: password.get_untracked(),
        };
        password.set(String::new());
        spawn_local(async move {
            match tm.get_value().login_with(&credentials).await {
                Ok(()) => notice.set(String::new()),
                Err(error) => notice.set(error.to_string()),
            }
        });
    };
    let log_out = move |_| spawn_local(async move { tm.get_value().logout().await });
    // ANCHOR_END: login

    let new_item = RwSignal::new(String::new());
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let name = new_item.get_untracked();
        if name.trim().is_empty() {
            return;
        }
        spawn_local(async move {
            match add_item(tm.get_value(), name).await {
                Ok(item) => {
                    items.update(|list| list.push(item));
                    new_item.set(String::new());
                    api_status.set("item added".into());
                }
                Err(error) => api_status.set(error),
            }
        });
    };

    let signed_in = move || {
        matches!(
            state.get(),
            SessionState::Authenticated | SessionState::Refreshing | SessionState::Expired
        )
    };

    view! {
        <main>
            <h1>"tokenwarden · Leptos"</h1>
            <p>"A Leptos app (client-side rendering) on " <code>"tokenwarden::web"</code>
               ". " <a href="/">"Back to the demo page"</a></p>
            <section aria-label="Session">
                <p>"State: " <strong id="state">{move || state_name(state.get())}</strong></p>
                <p>"Next refresh in " <span id="countdown">{countdown}</span></p>
                <p id="notice" role="status">{move || notice.get()}</p>
            </section>
            <Show
                when=signed_in
                fallback=move || view! {
                    <form on:submit=log_in aria-label="Log in">
                        <label>"Username " <input name="username" autocomplete="username" bind:value=username/></label>
                        <label>"Password " <input name="password" type="password" autocomplete="current-password" bind:value=password/></label>
                        <button type="submit">"Log in"</button>
                    </form>
                }
            >
                <section aria-label="Claims">
                    {move || claims.get().map(|c| view! {
                        <p>"Signed in as " <strong id="sub">{c.sub}</strong>
                           " · scope " <code id="scope">{c.scope}</code>
                           " · token expires at " <span id="exp">{c.exp}</span></p>
                    })}
                </section>
                <section aria-label="Items">
                    <button on:click=move |_| reload()>"Load items"</button>
                    <form on:submit=add aria-label="Add item">
                        <label>"New item " <input name="item" bind:value=new_item/></label>
                        <button type="submit">"Add"</button>
                    </form>
                    <ul id="items">
                        {move || items.get().into_iter().map(|item| view! {
                            <li data-id=item.id>{item.name}</li>
                        }).collect_view()}
                    </ul>
                </section>
                <button on:click=log_out>"Log out"</button>
            </Show>
            // Outside the signed-in part: a request that fails as the session ends still says why.
            <p id="api-status">{move || api_status.get()}</p>
        </main>
    }
}
