#!/usr/bin/env bash
# Builds the package's release wasm (`-p tokenwarden --lib`, wasm32-unknown-unknown) and prints
# ONLY the path of the built .wasm on stdout (progress goes to stderr).
# Usage: scripts/wasm-release.sh TARGET_DIR [CARGO_FEATURE_ARGS...]
#   e.g. scripts/wasm-release.sh target/pkg-build-x --no-default-features --features es256,oauth
#
# Toolchain (TW_WASM_TOOLCHAIN):
#   nightly  `cargo +nightly -Zbuild-std=core,alloc` with `-Cpanic=immediate-abort`: the standard
#            library is compiled with the package's profile (opt-level z, LTO) and every panic is a
#            bare `unreachable` with no message, location or formatting (core::fmt) behind it.
#            Needs the nightly's `rust-src` component (scripts/setup.sh installs it).
#   stable   the default toolchain with the prebuilt standard library (panic = "abort" and the
#            crate's own `#[panic_handler]`, src/lib.rs).
#   unset    nightly when `rustup run nightly rustc` works and `rust-src` is installed for it,
#            else stable.
# Seen here: rustc 1.97.0-nightly (e50aa6fba 2026-05-19). `-Cpanic=immediate-abort` replaced
# the `panic_immediate_abort` std feature in nightlies from October 2025 (rust-lang/rust#146317);
# older nightlies refuse it, and then this script falls back to stable with a warning.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 TARGET_DIR [CARGO_FEATURE_ARGS...]" >&2; exit 2; }
TARGET_DIR=$1
shift
say() { echo "wasm-release: $*" >&2; }

nightly_ready() {
  rustup run nightly rustc --version >/dev/null 2>&1 \
    && rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'
}

TOOLCHAIN=${TW_WASM_TOOLCHAIN:-}
if [ -z "$TOOLCHAIN" ]; then
  if nightly_ready; then TOOLCHAIN=nightly; else TOOLCHAIN=stable; fi
fi

build_stable() {
  say "cargo build --release (stable $(rustc --version | awk '{print $2}')) $*"
  cargo build --release --target wasm32-unknown-unknown -p tokenwarden --lib \
    --target-dir "$TARGET_DIR" "$@" >&2
  echo "$TARGET_DIR/wasm32-unknown-unknown/release/tokenwarden.wasm"
}

build_nightly() {
  # One target directory for every nightly build (each entry's feature set): the standard library
  # and the dependencies compile once, not once per entry (about 2 minutes each on 2 cores). The
  # lock keeps a parallel build with other features from replacing the artefact before it is
  # copied out to TARGET_DIR.
  local dir=${TW_WASM_NIGHTLY_DIR:-target/wasm-nightly}
  local out="$TARGET_DIR/tokenwarden-nightly.wasm"
  mkdir -p "$dir" "$TARGET_DIR"
  say "cargo +nightly build --release -Zbuild-std=core,alloc -Cpanic=immediate-abort ($(rustup run nightly rustc --version)) $*"
  (
    flock 9
    # `--cfg tw_immediate_abort` tells src/lib.rs to define no `#[panic_handler]` (the
    # immediate-abort core has its own). -Zlocation-detail=none and -Zfmt-debug=none drop the
    # source paths that `#[track_caller]` locations still carried (js-sys, base64ct, VecDeque)
    # and any Debug text: tokenwarden/oauth's wasm -287 B gzip (74,145 -> 73,858 before the
    # name shortening). RUSTFLAGS replaces no config: .cargo/config.toml sets none for wasm32.
    RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none --cfg tw_immediate_abort" \
      cargo +nightly build --release --target wasm32-unknown-unknown -p tokenwarden --lib \
      -Zbuild-std=core,alloc --config 'profile.release.panic="immediate-abort"' \
      -Zpanic-immediate-abort --target-dir "$dir" "$@" >&2
    cp "$dir/wasm32-unknown-unknown/release/tokenwarden.wasm" "$out"
  ) 9>"$dir.lock"
  echo "$out"
}

# The nightly build compiles core and alloc only: the npm entries are no_std
# (--no-default-features). A feature set with the default `std` builds on stable.
if [ "$TOOLCHAIN" = nightly ] && [[ " $* " != *" --no-default-features "* ]]; then
  say "the default features include std, which -Zbuild-std=core,alloc does not build: stable instead"
  TOOLCHAIN=stable
fi

case "$TOOLCHAIN" in
  nightly)
    if ! nightly_ready; then
      say "TW_WASM_TOOLCHAIN=nightly, but nightly or its rust-src is missing (run scripts/setup.sh)"
      exit 1
    fi
    build_nightly "$@"
    ;;
  stable) build_stable "$@" ;;
  *) say "TW_WASM_TOOLCHAIN must be nightly or stable, not '$TOOLCHAIN'"; exit 2 ;;
esac
