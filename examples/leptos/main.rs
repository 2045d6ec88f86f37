//! The README's Leptos quick start. `snippet.rs` is the code shown in the README (the build fails
//! if the README's copy differs); it uses only tokenwarden's Rust API, so it compiles without
//! Leptos. It is built for wasm32 by `make test` (`cargo clippy --target wasm32-unknown-unknown
//! --all-targets`); on other targets only the README check runs.

#[cfg(target_arch = "wasm32")]
#[allow(dead_code)] // a library of calls for components, not a program
mod snippet;

#[path = "../support/readme.rs"]
mod readme;

const _: () = assert!(
    readme::contains(include_str!("snippet.rs")),
    "README.md must contain examples/leptos/snippet.rs verbatim"
);

fn main() {}
