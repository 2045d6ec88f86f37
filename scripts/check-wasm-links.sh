#!/usr/bin/env bash
# Fails when a release wasm (cargo's artefact, before wasm-bindgen and wasm-opt, which keeps its
# name section) links a function whose name matches one of the given groups.
# Usage: scripts/check-wasm-links.sh WASM GROUP...
#   fmt       core::fmt's machinery (fmt::write, Formatter::pad / pad_integral, Display of integers)
#   future    a Rust future handed to JS (wasm-bindgen-futures' future_to_promise / spawn_local)
#   dpop-verify  the server-side DPoP verifier (verifyDpopProof, core::dpop::verifier)
#   oauth     the OAuth profile (core::oauth, the OAuthEngine)
#   signature the pure-Rust signature crates (jwt-compact, p256, rsa, ed25519-compact, sha2)
# Prints what matched, so a failure names the functions to look at (twiggy paths WASM -r NAME).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 WASM GROUP..." >&2; exit 2; }
WASM=$1
shift
[ -f "$WASM" ] || { echo "check-wasm-links: no such file: $WASM" >&2; exit 2; }
# Names are matched as rustc mangles them (the standard library's v0 `_RNv...4core3fmt5write`,
# the crates' legacy `_ZN4core3fmt5write17h...E`), both of which spell a path as <len><name>.
status=0
for group in "$@"; do
  case "$group" in
    fmt) re='4core3fmt(5write|[A-Za-z0-9_]*9Formatter(3pad|12pad_integral))' ;;
    future) re='17future_to_promise|20wasm_bindgen_futures|6js_sys7futures' ;;
    dpop-verify) re='4dpop8verifier|17verify_dpop_proof' ;;
    oauth) re='11tokenwarden4core5oauth|11tokenwarden2js12engine_oauth' ;;
    signature) re='[0-9]+(jwt_compact|p256|rsa|ed25519_compact|sha2|ecdsa|elliptic_curve|crypto_bigint|num_bigint_dig)[0-9]' ;;
    *) echo "check-wasm-links: unknown group $group" >&2; exit 2 ;;
  esac
  found=$(grep -a -o -E "[A-Za-z0-9_]{0,40}($re)[A-Za-z0-9_]{0,40}" "$WASM" | sort -u | head -8 || true)
  if [ -n "$found" ]; then
    echo "check-wasm-links: $WASM links $group:" >&2
    echo "$found" | sed 's/^/  /' >&2
    status=1
  else
    echo "check-wasm-links: $(basename "$WASM"): no $group"
  fi
done
exit $status
