//! The `#[wasm_bindgen]` surface of the npm package: conversion at the boundary, nothing else.
//!
//! JSON crosses the boundary as text (`JSON.stringify` / `JSON.parse`), which keeps
//! serde-wasm-bindgen and its size out of the package.

mod convert;
#[cfg(feature = "dpop-verify")]
mod dpop;
#[cfg(feature = "engine")]
mod engine;
// The OAuth profile's synchronous calls for the driver (oauth.js).
#[cfg(all(feature = "engine", feature = "oauth"))]
mod engine_oauth;
// DPoP's decisions and encodings for the driver's `dpop.js` (WebCrypto and I/O only).
#[cfg(all(feature = "engine", feature = "dpop"))]
mod engine_dpop;
mod verify;
