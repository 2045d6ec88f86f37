//! The `#[wasm_bindgen]` surface of the npm package: conversion at the boundary, nothing else.
//!
//! JSON crosses the boundary as text (`JSON.stringify` / `JSON.parse`), which keeps
//! serde-wasm-bindgen and its size out of the package.

mod convert;
#[cfg(all(feature = "verify", feature = "dpop"))]
mod dpop;
mod engine;
// The OAuth profile's synchronous calls for the driver (oauth.js).
#[cfg(feature = "oauth")]
mod engine_oauth;
// DPoP's decisions and encodings for the driver's `dpop.js` (WebCrypto and I/O only).
#[cfg(feature = "dpop")]
mod engine_dpop;
// The Rust shell's class (`crate::web::TokenManager` behind option parsing), exported only by
// builds with both the OAuth profile and DPoP: the package's JS driver hands `oauth` with
// `dpop: true` to it. Without one of them the package links no Rust shell at all.
#[cfg(all(feature = "oauth", feature = "dpop"))]
mod manager;
mod verify;

#[cfg(all(feature = "oauth", feature = "dpop"))]
pub use manager::TokenManager;
