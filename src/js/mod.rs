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
// The Rust shell's class (`crate::web::TokenManager` behind option parsing), exported only by
// builds with DPoP: the package's JS driver (driver.js, over `engine`, and oauth.js over
// `engine_oauth` for the OAuth profile) hands the `dpop: true` option to it. Without DPoP the
// package links no Rust shell at all.
#[cfg(feature = "dpop")]
mod manager;
mod verify;

#[cfg(feature = "dpop")]
pub use manager::TokenManager;
