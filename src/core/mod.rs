//! The pure core: everything that can be decided without a clock or I/O.
//!
//! Nothing in here reads the time: every time-dependent function takes `now` as an argument.
//! Nothing in here depends on wasm-bindgen, web-sys, js-sys or gloo (checked by `make test`).

pub mod b64;
pub mod claims;
pub mod decode;
pub mod dpop;
pub mod error;
pub mod json;
#[cfg(feature = "verify")]
pub mod jwk;
pub mod manager;
pub mod oauth;
#[cfg(all(
    feature = "verify",
    any(not(target_arch = "wasm32"), feature = "portable")
))]
pub(crate) mod primitive;
pub mod refetch;
pub mod secret;
pub mod session;
pub mod tabs;
pub mod time;
#[cfg(feature = "verify")]
pub mod verify;
