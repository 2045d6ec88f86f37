//! The `#[wasm_bindgen]` surface of the npm package: conversion at the boundary, nothing else.
//!
//! JSON crosses the boundary as text (`JSON.stringify` / `JSON.parse`), which keeps
//! serde-wasm-bindgen and its size out of the package.

pub(crate) mod channel;
mod convert;
#[cfg(all(feature = "verify", feature = "dpop"))]
mod dpop;
mod engine;
// DPoP's decisions and encodings for the driver's `dpop.js` (WebCrypto and I/O only).
#[cfg(feature = "dpop")]
mod engine_dpop;
// The Rust shell's class (`crate::web::TokenManager` behind option parsing), exported only by
// builds with the OAuth profile: the package's JS driver (driver.js, over `engine`) hands the
// `oauth` option to it. Without it the package links no Rust shell at all.
#[cfg(feature = "oauth")]
mod manager;
mod verify;

#[cfg(feature = "oauth")]
pub use manager::TokenManager;
