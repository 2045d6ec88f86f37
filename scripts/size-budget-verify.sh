#!/usr/bin/env bash
# Size budget of signature verification in the npm package (a test, not a benchmark: the builds
# are deterministic). Compares two builds that `make test-js` has already made, so nothing is
# built twice (about 1 second):
#   target/pkg-verify/    the npm build's verification (ES256, EdDSA, RS*/PS*, HS*) without the
#                         OAuth profile (--no-default-features --features engine,es256,eddsa,rsa,hmac,jwt-api)
#   pkg/                  the tokenwarden entry: the build without verification (--features engine)
# The OAuth profile needs verification but is its own feature (`oauth`, on in the npm build); its
# share is held by scripts/size-budget.sh's budget of the tokenwarden/oauth entry.
# Fails when verification adds more than VERIFY_BUDGET_BYTES (default 14,400 B) of wasm plus JS
# glue, gzip -9.
# (12 KB until the package's TokenManager became a JS driver: the option readers of src/js/
# convert.rs, shared with the Rust shell's class then, were linked only by verification;
# 12.2 -> 17.7 KB while the verify build itself went from about 97 to 64.5 KB. Then verify.js
# read the options and handed wasm one JSON text, and WebCrypto's `crypto` and `Boolean` were
# imported directly instead of looked up on the global object: 17,690 -> 15,080 B. The goal is
# still 12,288 B.) Minified JS and wasm-opt -Os twice (from main, where the shell still shared the
# readers: 11,866 B): 14,706 B (wasm 13,415 + JS 1,291), the verify-only build 64,835 B against
# main's about 96.8 KB (84.9 KB + 11,866 B: the Rust shell in both of main's builds). The JS counted is what the entry loads: the glue and index.js (the entry bundled with driver.js,
# custody.js, oauth.js, dpop.js, and verify.js only with verification).
# Usage: scripts/size-budget-verify.sh [VERIFY_DIR] [NOVERIFY_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
FULL=${1:-target/pkg-verify}
NOVERIFY=${2:-pkg}
BUDGET=${VERIFY_BUDGET_BYTES:-13800}  # measured 13,569 B (with verification 51,081 B, without 37,512 B: nightly build-std, no track_caller locations); 14,107 B on stable before the entries
for dir in "$FULL" "$NOVERIFY"; do
  if [ ! -f "$dir/web/tokenwarden_bg.wasm" ]; then
    echo "size-budget-verify: $dir/web is missing; build it with scripts/build-pkg.sh" >&2
    exit 2
  fi
done
size() { # wasm + JS of the web entry (the glue and index.js, which bundles verify.js in builds with it), gzip -9
  local glue
  glue=$(cd "$1/web" && cat tokenwarden.js index.js | gzip -9c | wc -c)
  echo $(( $(gzip -9c "$1/web/tokenwarden_bg.wasm" | wc -c) + glue ))
}
full=$(size "$FULL")
noverify=$(size "$NOVERIFY")
delta=$((full - noverify))
echo "size-budget-verify: with verification $full B, without $noverify B, verification adds $delta B (budget $BUDGET B)"
# That no entry of the package links a signature crate (WebCrypto verifies) is checked on each
# entry's wasm by scripts/size-budget.sh.
if [ "$delta" -gt "$BUDGET" ]; then
  echo "size-budget-verify: verification costs $delta B gzip, over the $BUDGET B budget" >&2
  exit 1
fi
