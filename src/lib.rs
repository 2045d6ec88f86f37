//! tokenwarden: a browser token manager for single-page apps, and a JWT verification core.
//!
//! - [`core`] is pure Rust (no clock reads, no I/O): decoding, verification, and the refresh
//!   session state machine. It builds and runs on every target.
//! - `web` (wasm32 only) drives the core from the browser: clock, timers, HTTP, fetch wrapping.
//! - `js` (wasm32 only) is the `#[wasm_bindgen]` surface of the npm package.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod core;

// The README's Rust snippets compile as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
pub mod web;
#[cfg(all(target_arch = "wasm32", feature = "verify", not(feature = "portable")))]
pub mod webcrypto;

/// The Rust shell behind the npm package's options (browser tests only; not in the npm package).
#[cfg(all(target_arch = "wasm32", feature = "testing"))]
#[doc(hidden)]
pub use crate::js::TokenManager as JsTokenManager;

pub use crate::core::claims::{Audience, Claims, Header};
pub use crate::core::decode::{decode_unverified, DecodeOptions, UnverifiedToken};
pub use crate::core::error::JwtError;
#[cfg(feature = "verify")]
pub use crate::core::jwk::{Jwk, JwkSet, KeyOptions};
#[cfg(feature = "verify")]
pub use crate::core::verify::{Algorithm, Verified, Verifier, VerifierBuilder};
