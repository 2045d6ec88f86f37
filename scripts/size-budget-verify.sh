#!/usr/bin/env bash
# Size budget of signature verification in the npm package (a test, not a benchmark: the builds
# are deterministic). Compares two builds that `make test-js` has already made, so nothing is
# built twice (about 1 second):
#   target/pkg-verify/    the npm build's verification (ES256, EdDSA, RS*/PS*, HS*) without the
#                         OAuth profile (--no-default-features --features es256,eddsa,rsa,hmac)
#   target/pkg-noverify/  the build without verification (--no-default-features)
# The OAuth profile needs verification but is its own feature (`oauth`, on in the npm build); its
# share is held by scripts/size-budget.sh's budget of the full build.
# Fails when verification adds more than VERIFY_BUDGET_BYTES (default 17.5 KB) of wasm plus JS
# glue, gzip -9, or when a signature crate is linked into the npm build (WebCrypto verifies).
# (12 KB until the package's TokenManager became a JS driver: the option readers of src/js/
# convert.rs, shared with the Rust shell's class then, are now linked only by verification;
# 12.2 -> 17.7 KB while the verify build itself went from about 97 to 64.5 KB.)
# Usage: scripts/size-budget-verify.sh [VERIFY_DIR] [NOVERIFY_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
FULL=${1:-target/pkg-verify}
NOVERIFY=${2:-target/pkg-noverify}
BUDGET=${VERIFY_BUDGET_BYTES:-17900}
for dir in "$FULL" "$NOVERIFY"; do
  if [ ! -f "$dir/web/tokenwarden_bg.wasm" ]; then
    echo "size-budget-verify: $dir/web is missing; build it with scripts/build-pkg.sh" >&2
    exit 2
  fi
done
size() { # wasm + JS glue of the web entry, each gzip -9
  echo $(( $(gzip -9c "$1/web/tokenwarden_bg.wasm" | wc -c) + $(cat "$1/web/tokenwarden.js" "$1/web/index.js" | gzip -9c | wc -c) ))
}
full=$(size "$FULL")
noverify=$(size "$NOVERIFY")
delta=$((full - noverify))
echo "size-budget-verify: with verification $full B, without $noverify B, verification adds $delta B (budget $BUDGET B)"
# The npm build's release wasm before wasm-opt keeps its symbol names: no signature crate may appear.
raw=$(ls target/pkg-build-__no_default_features___features_es256_eddsa_rsa_oauth_dpop_hmac_/wasm32-unknown-unknown/release/tokenwarden.wasm 2>/dev/null || true)
if [ -n "$raw" ]; then
  linked=$(grep -a -o -E '_ZN[0-9]+(jwt_compact|p256|rsa|ed25519_compact|sha2|getrandom|ecdsa|elliptic_curve|crypto_bigint|num_bigint_dig)[0-9]' "$raw" | sort -u || true)
  if [ -n "$linked" ]; then
    echo "size-budget-verify: signature crates linked into the npm build:" $linked >&2
    exit 1
  fi
  echo "size-budget-verify: no signature crate linked (jwt-compact, p256, rsa, ed25519-compact, sha2, getrandom)"
fi
if [ "$delta" -gt "$BUDGET" ]; then
  echo "size-budget-verify: verification costs $delta B gzip, over the $BUDGET B budget" >&2
  exit 1
fi
