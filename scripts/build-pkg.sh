#!/usr/bin/env bash
# Builds the npm package into pkg/ (about 1-2 minutes cold, 15 s warm):
#   pkg/web/   wasm-bindgen --target web + an entry that instantiates the module with top-level
#              await, so browsers, Vite and <script type="module"> need no init call;
#   pkg/node/  wasm-bindgen --target experimental-nodejs-module (ESM, loads synchronously);
#   pkg/index.d.ts, pkg/package.json with `exports` conditions choosing between them.
# Usage: scripts/build-pkg.sh [OUT_DIR] [CARGO_FEATURE_ARGS...]
#   e.g. scripts/build-pkg.sh target/pkg-noverify --no-default-features
#   (pass --no-default-features with the features wanted: `default` has `std`, see Cargo.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-pkg}
shift || true
# The npm build includes HMAC; oct keys are still refused unless allowSymmetricKeys is set.
# Its features are listed without `default`, whose `std` is for the Rust shell: a package built
# without `std` is `no_std` wasm (smaller). `oauth` still brings `std` (its option constructs the
# Rust shell), so today only the builds without OAuth are `no_std`.
if [ $# -gt 0 ]; then FEATURES=("$@"); else FEATURES=(--no-default-features --features es256,eddsa,rsa,oauth,dpop,hmac); fi
export PATH="$PWD/node_modules/.bin:$PATH"

echo "pkg: cargo build --release --target wasm32-unknown-unknown ${FEATURES[*]:-} (about 1 minute cold)"
TARGET_DIR=target
if [ ${#FEATURES[@]} -gt 0 ]; then TARGET_DIR=target/pkg-build-$(echo "${FEATURES[*]}" | tr -c 'a-z0-9' '_'); fi
cargo build --release --target wasm32-unknown-unknown -p tokenwarden --lib --target-dir "$TARGET_DIR" "${FEATURES[@]}"
WASM="$TARGET_DIR/wasm32-unknown-unknown/release/tokenwarden.wasm"

rm -rf "$OUT"
mkdir -p "$OUT/web" "$OUT/node"
echo "pkg: wasm-bindgen (web, node)"
wasm-bindgen --target web --out-dir "$OUT/web" --out-name tokenwarden "$WASM"
wasm-bindgen --target experimental-nodejs-module --out-dir "$OUT/node" --out-name tokenwarden "$WASM"

# rustc's wasm32 target enables these proposals by default; wasm-opt must be told.
WASM_OPT_FEATURES=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue)
for dir in web node; do
  echo "pkg: wasm-opt -Oz ($dir)"
  wasm-opt -Oz "${WASM_OPT_FEATURES[@]}" "$OUT/$dir/tokenwarden_bg.wasm" -o "$OUT/$dir/tokenwarden_bg.wasm"
done

# Names exported by the module (the same in both builds).
NAMES=$(node -e '
  const src = require("fs").readFileSync(process.argv[1], "utf8");
  const names = [...src.matchAll(/^export (?:class|function|const) (\w+)/gm)].map(m => m[1])
    .filter(n => n !== "initSync" && !n.startsWith("__"));
  console.log(names.join(", "));' "$OUT/web/tokenwarden.js")

# verifyJwt also takes a KeySet (imported once); the dispatch lives in this thin JS layer, as
# does the one WebCrypto call of a verification: wasm does every check (__verifyBegin,
# KeySet#__begin) and this async function asks crypto.subtle, with no Rust future in between.
WRAP='import { __verifyBegin, __verifyError, KeySet } from "./tokenwarden.js";
async function settle(begin) {
  const [key, params, signature, message, result, failed] = begin();
  if (key !== null) {
    const cryptoKey = await key;
    if (typeof cryptoKey !== "object") throw __verifyError(true);
    const valid = await crypto.subtle.verify(params, cryptoKey, signature, message).catch(() => false);
    if (!valid) throw __verifyError(false);
  }
  if (failed) throw result;
  return result;
}
KeySet.prototype.verify = function (token, options) { return settle(() => this.__begin(token, options)); };
export function verifyJwt(token, keys, options) {
  return settle(() => keys instanceof KeySet ? keys.__begin(token, options) : __verifyBegin(token, keys, options));
}'
if ! grep -qw KeySet <<<"$NAMES"; then
  # A build without verification (--no-default-features) has no verifyJwt or KeySet.
  WRAP=''
fi
# The public TokenManager is the JS driver (driver.js) over the wasm Engine; neither wasm class
# is exported as is. Builds with the OAuth profile or DPoP also export the Rust shell's class,
# which the driver constructs for those options (and gives its fetch fast path).
EXPORTS=$(echo "$NAMES" | tr -d ' ' | tr ',' '\n' | grep -vxE 'verifyJwt|Engine|DpopCore|TokenManager' | paste -sd, | sed 's/,/, /g')
# The JS is shipped without its comments and indentation: full-line comments (wasm-bindgen copies
# every Rust doc comment into tokenwarden.js) and leading blanks only, which needs no minifier
# (neither file has a multi-line template literal, the one construct where that would matter).
strip_js() { # strip_js IN OUT
  node -e '
    const fs = require("fs");
    let block = false;
    const src = fs.readFileSync(process.argv[1], "utf8");
    const out = src.split("\n").map((l) => l.trim()).filter((l) => {
      if (block) { block = !l.endsWith("*/"); return false; }
      if (l.startsWith("/*")) { block = !l.endsWith("*/"); return false; }
      return l !== "" && !l.startsWith("//");
    });
    // A line with an odd number of backticks would open a multi-line template literal: refuse.
    const odd = out.find((l) => (l.split("`").length - 1) % 2 === 1);
    if (odd !== undefined) throw new Error(process.argv[1] + ": cannot strip around: " + odd);
    fs.writeFileSync(process.argv[2], out.join("\n") + "\n");
  ' "$1" "$2"
}
for dir in web node; do
  strip_js src/js/driver.js "$OUT/$dir/driver.js"
  # DPoP's WebCrypto side, which driver.js imports; a build without DPoP (no DpopCore) ships an
  # empty module in its place.
  if grep -q 'class DpopCore' "$OUT/$dir/tokenwarden.js"; then
    strip_js src/js/dpop.js "$OUT/$dir/dpop.js"
  else
    echo 'export {};' > "$OUT/$dir/dpop.js"
  fi
  strip_js "$OUT/$dir/tokenwarden.js" "$OUT/$dir/tokenwarden.js"
done
cat > "$OUT/web/index.js" <<JS
// Browser entry: instantiates the module once, with top-level await, so no init call is needed.
import init from './tokenwarden.js';
await init({ module_or_path: new URL('./tokenwarden_bg.wasm', import.meta.url) });
$WRAP
export { TokenManager } from './driver.js';
export { $EXPORTS } from './tokenwarden.js';
JS
cat > "$OUT/node/index.js" <<JS
// Node entry: the module is loaded synchronously on import.
$WRAP
export { TokenManager } from './driver.js';
export { $EXPORTS } from './tokenwarden.js';
JS
if [ -n "$WRAP" ]; then
  cp src/js/tokenwarden.d.ts "$OUT/index.d.ts"
else
  # Without verification the module has no verifyJwt or KeySet: neither do its declarations.
  sed '/^\/\/ @verify-begin/,/^\/\/ @verify-end/d' src/js/tokenwarden.d.ts > "$OUT/index.d.ts"
fi
VERSION=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
cat > "$OUT/package.json" <<JSON
{
  "name": "tokenwarden",
  "version": "$VERSION",
  "description": "Browser token manager (memory-only access tokens, silent refresh, fetch wrapping) and a JWT verifier, in Rust and WebAssembly",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "types": "./index.d.ts",
  "exports": {
    ".": {
      "types": "./index.d.ts",
      "node": "./node/index.js",
      "default": "./web/index.js"
    },
    "./package.json": "./package.json"
  },
  "files": ["index.d.ts", "web/", "node/"],
  "sideEffects": ["./web/index.js", "./node/index.js", "./web/driver.js", "./node/driver.js"],
  "engines": { "node": ">=20" }
}
JSON
cp README.md "$OUT/README.md" 2>/dev/null || true
rm -f "$OUT"/*/.gitignore
for dir in web node; do
  printf 'pkg: %s wasm %s bytes (gzip -9: %s), glue gzip -9: %s bytes\n' "$OUT/$dir" \
    "$(stat -c %s "$OUT/$dir/tokenwarden_bg.wasm")" \
    "$(gzip -9c "$OUT/$dir/tokenwarden_bg.wasm" | wc -c)" \
    "$(cat "$OUT/$dir/tokenwarden.js" "$OUT/$dir/index.js" "$OUT/$dir/driver.js" "$OUT/$dir/dpop.js" | gzip -9c | wc -c)"
done
