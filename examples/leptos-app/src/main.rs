//! A Leptos app (client-side rendering) on tokenwarden's Rust API: log in, watch the session
//! and its claims, the countdown to the silent refresh, load and add items through the manager,
//! log out. `scripts/build-example-apps.sh` builds it into `target/examples/leptos/`; the reference
//! server serves it at `/examples/leptos/` (`make demo`), and `tests/apps/` drives it with
//! Playwright. The README's Leptos quick start is quoted from `src/app.rs`
//! (`tests/readme_quotes.rs` keeps the two equal).

#[cfg(target_arch = "wasm32")]
mod app;

fn main() {
    #[cfg(target_arch = "wasm32")]
    {
        console_error_panic_hook::set_once();
        leptos::mount::mount_to_body(app::App);
    }
}
