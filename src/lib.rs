//! tokenwarden: a browser token manager for single-page apps, and a JWT verification core.
//!
//! - [`core`] is pure Rust (no clock reads, no I/O): decoding, verification, and the refresh
//!   session state machine. It builds and runs on every target.
//! - `web` (wasm32 only) drives the core from the browser: clock, timers, HTTP, fetch wrapping.
//! - `js` (wasm32 only) is the `#[wasm_bindgen]` surface of the npm package.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// The npm package's wasm is built without the `std` feature: `no_std` + `alloc`, a panic that
// traps, and the talc allocator (see Cargo.toml). Host builds and the Rust shell always have std.
#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]

#[cfg_attr(all(target_arch = "wasm32", not(feature = "std")), macro_use)]
extern crate alloc;

/// What the std prelude gives and `no_std` does not; each module that needs it imports it.
#[allow(unused_imports)]
mod prelude {
    pub(crate) use alloc::borrow::ToOwned;
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec::Vec;
}

/// `no_std` wasm: a panic traps (`unreachable`), with no message, location or unwinding. Every
/// input reachable from JS is checked and answered with a typed error instead. The nightly
/// build (scripts/wasm-release.sh, `-Cpanic=immediate-abort`, `--cfg tw_immediate_abort`) needs
/// none: its `core` traps at every panic site and never calls a handler.
#[cfg(all(target_arch = "wasm32", not(feature = "std"), not(tw_immediate_abort)))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo<'_>) -> ! {
    ::core::arch::wasm32::unreachable()
}

/// `no_std` wasm: talc, growing wasm memory as needed (smaller than std's dlmalloc, Cargo.toml).
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

// `no_std` wasm with RSA: getrandom 0.2 (through rsa's rand_core) gets a source that refuses;
// verification never draws random numbers (the std build keeps getrandom's `js` source).
#[cfg(all(target_arch = "wasm32", not(feature = "std"), feature = "rsa"))]
getrandom02::register_custom_getrandom!(no_random);

#[cfg(all(target_arch = "wasm32", not(feature = "std"), feature = "rsa"))]
fn no_random(_: &mut [u8]) -> Result<(), getrandom02::Error> {
    Err(getrandom02::Error::UNSUPPORTED)
}

/// `no_std` wasm has one thread and no `thread_local!`, and a `static` cannot hold a `JsValue`
/// without `unsafe`: there, `thread_local!` declares a value made afresh by every `with` (used
/// for caches of JS values, which the std build keeps).
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
macro_rules! thread_local {
    ($(#[$attr:meta])* static $name:ident: $t:ty = const { $init:expr }; $($rest:tt)*) => {
        thread_local!($(#[$attr])* static $name: $t = $init; $($rest)*);
    };
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])*
        static $name: crate::Fresh<$t> = crate::Fresh({
            fn init() -> $t {
                $init
            }
            init
        });
        thread_local!($($rest)*);
    };
    () => {};
}

/// See `thread_local!` above.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[cfg_attr(not(feature = "dpop-verify"), allow(dead_code))]
pub(crate) struct Fresh<T: 'static>(pub(crate) fn() -> T);

#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[cfg_attr(not(feature = "dpop-verify"), allow(dead_code))]
impl<T: 'static> Fresh<T> {
    pub(crate) fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        f(&(self.0)())
    }
}

pub mod core;

// The README's Rust snippets compile as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// The cross-tab channel's JS objects, read and written for the core's codec by both shells.
#[cfg(all(target_arch = "wasm32", any(feature = "engine", feature = "std")))]
mod channel;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(all(target_arch = "wasm32", feature = "std"))]
pub mod web;
#[cfg(all(target_arch = "wasm32", feature = "verify", not(feature = "portable")))]
pub mod webcrypto;

pub use crate::core::claims::{Audience, Claims, Header};
pub use crate::core::decode::{decode_unverified, DecodeOptions, UnverifiedToken};
pub use crate::core::error::JwtError;
#[cfg(feature = "verify")]
pub use crate::core::jwk::{Jwk, JwkSet, KeyOptions};
#[cfg(feature = "verify")]
pub use crate::core::verify::{Algorithm, Verified, Verifier, VerifierBuilder};
