//! The app's components and hooks. The parts between `ANCHOR` comments are quoted in the README.

use std::rc::Rc;

use gloo_timers::callback::Interval;
use tokenwarden::web::{RefreshPolicy, SessionState};
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

// ANCHOR: manager
use gloo_net::http::Request;
use tokenwarden::web::{Config, Custody, Event, TokenManager};

/// The manager, shared with every component through a context. Created once, by the root
/// component; single-threaded (`!Send`), like everything in the browser.
#[derive(Clone)]
pub struct Auth(pub Rc<TokenManager>);

/// A context re-renders its consumers when its value changes: one manager for the app's life.
impl PartialEq for Auth {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

pub fn manager(policy: RefreshPolicy, custody: Custody) -> Auth {
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
    Auth(Rc::new(
        TokenManager::new(config).expect("valid tokenwarden config"),
    ))
}

/// Decoded, not verified: for display only. `claims::<T>()` reads the payload with the
/// browser's `JSON.parse` and serde-wasm-bindgen (cargo feature `serde-wasm-bindgen`).
#[derive(Clone, PartialEq, serde::Deserialize)]
pub struct MyClaims {
    pub sub: String,
    pub scope: String,
    pub exp: u64,
}
// ANCHOR_END: manager

// ANCHOR: hooks
/// The manager of the `ContextProvider<Auth>` above the component.
#[hook]
pub fn use_auth() -> Rc<TokenManager> {
    use_context::<Auth>()
        .expect("a ContextProvider<Auth> above")
        .0
}

/// Calls `listener` with every event of the manager while the component is mounted (the
/// subscription is dropped with it).
#[hook]
pub fn use_auth_events<F: Fn(&Event) + 'static>(listener: F) {
    let tm = use_auth();
    use_effect_with((), move |_| {
        let subscription = tm.subscribe(listener);
        move || drop(subscription)
    });
}

/// What components show of the session, read again after every event.
#[derive(Clone, PartialEq)]
pub struct SessionView {
    pub state: SessionState,
    pub claims: Option<MyClaims>,
    pub next_refresh_at: Option<u64>,
}

impl SessionView {
    fn of(tm: &TokenManager) -> Self {
        SessionView {
            state: tm.state(),
            claims: tm.claims::<MyClaims>().ok().flatten(),
            next_refresh_at: tm.next_refresh_at(),
        }
    }

    pub fn signed_in(&self) -> bool {
        self.state != SessionState::Anonymous
    }
}

/// The session, re-rendering the component when what it shows changes.
#[hook]
pub fn use_session() -> SessionView {
    let tm = use_auth();
    let view = use_state_eq({
        let tm = tm.clone();
        move || SessionView::of(&tm)
    });
    let set = view.setter();
    use_effect_with((), move |_| {
        // Read again once subscribed: an event may have come between the render and the effect.
        set.set(SessionView::of(&tm));
        let subscription = tm.subscribe({
            let tm = tm.clone();
            move |_| set.set(SessionView::of(&tm))
        });
        move || drop(subscription)
    });
    (*view).clone()
}
// ANCHOR_END: hooks

// ANCHOR: requests
#[derive(Clone, PartialEq, serde::Deserialize)]
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

/// The page's query string, without its `?`.
fn query() -> String {
    let search = web_sys::window()
        .and_then(|window| window.location().search().ok())
        .unwrap_or_default();
    search.trim_start_matches('?').to_owned()
}

/// Refresh timing from the page's query (`?minRefreshLeadMs=1500&minRefreshIntervalMs=1000`),
/// as on the demo page, so that short-lived tokens show silent refreshes quickly.
fn policy_from_query() -> RefreshPolicy {
    let mut policy = RefreshPolicy::default();
    for pair in query().split('&') {
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
    match query().split('&').any(|pair| pair == "custody=worker") {
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

/// The value of an `<input>` (empty when it is not mounted).
fn value_of(input: &NodeRef) -> String {
    input
        .cast::<HtmlInputElement>()
        .map(|input| input.value())
        .unwrap_or_default()
}

fn clear(input: &NodeRef) {
    if let Some(input) = input.cast::<HtmlInputElement>() {
        input.set_value("");
    }
}

// ANCHOR: session
#[function_component]
pub fn App() -> Html {
    let auth = use_memo((), |_| manager(policy_from_query(), custody_from_query()));
    // A reload lost the in-memory token: the HttpOnly refresh cookie restores the session.
    {
        let tm = auth.0.clone();
        use_effect_with((), move |_| {
            spawn_local(async move {
                tm.start().await;
            })
        });
    }
    html! {
        <ContextProvider<Auth> context={(*auth).clone()}>
            <Page />
        </ContextProvider<Auth>>
    }
}

#[function_component]
fn Page() -> Html {
    let session = use_session();
    let notice = use_state(String::new);
    {
        let notice = notice.setter();
        use_auth_events(move |event| match event {
            Event::LoggedOut { reason } => notice.set(format!("logged out ({})", reason.as_str())),
            Event::RefreshFailed { failure, .. } => {
                notice.set(format!("a refresh failed ({failure:?}); retrying"))
            }
            _ => {}
        });
    }
    // ANCHOR_END: session
    let api_status = use_state(String::new);
    let on_notice = Callback::from({
        let notice = notice.setter();
        move |text: String| notice.set(text)
    });
    let on_status = Callback::from({
        let api_status = api_status.setter();
        move |text: String| api_status.set(text)
    });
    html! {
        <main>
            <h1>{"tokenwarden · Yew"}</h1>
            <p>{"A Yew app (client-side rendering) on "} <code>{"tokenwarden::web"}</code>
               {". "} <a href="/">{"Back to the demo page"}</a></p>
            <section aria-label="Session">
                <p>{"State: "} <strong id="state">{state_name(session.state)}</strong></p>
                <p>{"Next refresh in "} <Countdown at={session.next_refresh_at} /></p>
                <p id="notice" role="status">{(*notice).clone()}</p>
            </section>
            if session.signed_in() {
                <section aria-label="Claims">
                    if let Some(claims) = session.claims.clone() {
                        <p>{"Signed in as "} <strong id="sub">{claims.sub}</strong>
                           {" · scope "} <code id="scope">{claims.scope}</code>
                           {" · token expires at "} <span id="exp">{claims.exp}</span></p>
                    }
                </section>
                <Items {on_status} />
                <LogOut />
            } else {
                <LogIn {on_notice} />
            }
            // Outside the signed-in part: a request that fails as the session ends still says why.
            <p id="api-status">{(*api_status).clone()}</p>
        </main>
    }
}

#[derive(Properties, PartialEq)]
struct CountdownProps {
    at: Option<u64>,
}

/// Seconds to the next silent refresh, ticking every 250 ms.
#[function_component]
fn Countdown(props: &CountdownProps) -> Html {
    let now = use_state(js_sys::Date::now);
    {
        let now = now.setter();
        use_effect_with((), move |_| {
            let ticker = Interval::new(250, move || now.set(js_sys::Date::now()));
            move || drop(ticker)
        });
    }
    let text = match props.at {
        Some(at) => format!("{:.1} s", ((at as f64 - *now) / 1000.0).max(0.0)),
        None => "no session".to_string(),
    };
    html! { <span id="countdown">{text}</span> }
}

#[derive(Properties, PartialEq)]
struct NoticeProps {
    on_notice: Callback<String>,
}

#[derive(serde::Serialize)]
struct Credentials {
    username: String,
    password: String,
}

#[function_component]
fn LogIn(props: &NoticeProps) -> Html {
    let tm = use_auth();
    let username = use_node_ref();
    let password = use_node_ref();
    // ANCHOR: login
    let onsubmit = {
        let (username, password) = (username.clone(), password.clone());
        let on_notice = props.on_notice.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let credentials = Credentials {
                username: value_of(&username),
                password: value_of(&password),
            };
            clear(&password);
            let (tm, on_notice) = (tm.clone(), on_notice.clone());
            spawn_local(async move {
                match tm.login_with(&credentials).await {
                    Ok(()) => on_notice.emit(String::new()),
                    Err(error) => on_notice.emit(error.to_string()),
                }
            });
        })
    };
    // ANCHOR_END: login
    html! {
        <form {onsubmit} aria-label="Log in">
            <label>{"Username "} <input name="username" autocomplete="username" ref={username} /></label>
            <label>{"Password "} <input name="password" type="password" autocomplete="current-password" ref={password} /></label>
            <button type="submit">{"Log in"}</button>
        </form>
    }
}

#[function_component]
fn LogOut() -> Html {
    let tm = use_auth();
    let onclick = Callback::from(move |_: MouseEvent| {
        let tm = tm.clone();
        spawn_local(async move { tm.logout().await })
    });
    html! { <button {onclick}>{"Log out"}</button> }
}

/// The list, changed by the answers of requests that finish after the render that sent them.
#[derive(Default, PartialEq)]
struct ItemsState(Vec<Item>);

enum ItemsAction {
    Loaded(Vec<Item>),
    Added(Item),
}

impl Reducible for ItemsState {
    type Action = ItemsAction;
    fn reduce(self: Rc<Self>, action: ItemsAction) -> Rc<Self> {
        match action {
            ItemsAction::Loaded(items) => Rc::new(ItemsState(items)),
            ItemsAction::Added(item) => {
                let mut items = self.0.clone();
                items.push(item);
                Rc::new(ItemsState(items))
            }
        }
    }
}

#[derive(Properties, PartialEq)]
struct StatusProps {
    on_status: Callback<String>,
}

#[function_component]
fn Items(props: &StatusProps) -> Html {
    let tm = use_auth();
    let items = use_reducer(ItemsState::default);
    let new_item = use_node_ref();
    let reload = {
        let (tm, items, on_status) = (tm.clone(), items.dispatcher(), props.on_status.clone());
        Callback::from(move |_: MouseEvent| {
            let (tm, items, on_status) = (tm.clone(), items.clone(), on_status.clone());
            spawn_local(async move {
                match load_items(tm).await {
                    Ok(list) => {
                        items.dispatch(ItemsAction::Loaded(list));
                        on_status.emit("items loaded".into());
                    }
                    Err(error) => on_status.emit(error),
                }
            })
        })
    };
    let add = {
        let (items, on_status, new_item) = (
            items.dispatcher(),
            props.on_status.clone(),
            new_item.clone(),
        );
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let name = value_of(&new_item);
            if name.trim().is_empty() {
                return;
            }
            let (tm, items, on_status, new_item) = (
                tm.clone(),
                items.clone(),
                on_status.clone(),
                new_item.clone(),
            );
            spawn_local(async move {
                match add_item(tm, name).await {
                    Ok(item) => {
                        items.dispatch(ItemsAction::Added(item));
                        clear(&new_item);
                        on_status.emit("item added".into());
                    }
                    Err(error) => on_status.emit(error),
                }
            })
        })
    };
    html! {
        <section aria-label="Items">
            <button onclick={reload}>{"Load items"}</button>
            <form onsubmit={add} aria-label="Add item">
                <label>{"New item "} <input name="item" ref={new_item} /></label>
                <button type="submit">{"Add"}</button>
            </form>
            <ul id="items">
                { for items.0.iter().map(|item| html! {
                    <li key={item.id} data-id={item.id.to_string()}>{item.name.clone()}</li>
                }) }
            </ul>
        </section>
    }
}
