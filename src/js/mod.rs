//! The `#[wasm_bindgen]` surface of the npm package: conversion at the boundary, nothing else.
//!
//! JSON crosses the boundary as text (`JSON.stringify` / `JSON.parse`), which keeps
//! serde-wasm-bindgen and its size out of the package.

mod convert;
#[cfg(all(feature = "verify", feature = "dpop"))]
mod dpop;
mod manager;
mod verify;

pub use manager::TokenManager;
