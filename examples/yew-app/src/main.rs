//! A Yew app (client-side rendering) on tokenwarden's Rust API: the manager shared through a
//! context, the session's state and claims in hooks, the countdown to the silent refresh, items
//! loaded and added through the manager, log out. `scripts/build-example-apps.sh` builds it into
//! `target/examples/yew/`; the reference server serves it at `/examples/yew/` (`make demo`), and
//! `tests/apps/` drives it with Playwright, the same steps as the Leptos app. The README's Yew
//! quick start is quoted from `src/app.rs` (`tests/readme_quotes.rs` keeps the two equal).

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod oauth;

fn main() {
    #[cfg(target_arch = "wasm32")]
    yew::Renderer::<app::App>::new().render();
}
