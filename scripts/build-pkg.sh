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
# Smallest gzip of the settings tried (December 2026, binaryen 132, gzip -9 of full / without
# verification): -Oz 134,283 / 78,734 B; -Os twice 133,273 / 78,249 (-Os leaves more bytes than -Oz
# but they compress better; -Oz twice or --converge, --gufa, --zero-filled-memory and
# --generate-global-effects won at most 160 B or lost). --low-memory-unused (-0.5 / -0.2 KB) folds
# constant offsets into loads: rustc places the stack first, so the low 1 KB is the far end of a 1 MB
# stack, and only an address wrapping past 4 GB (which Rust never forms) would reach it. Producers and
# target-features sections are read by no browser (-0.2 KB).
WASM_OPT_SIZE=(--low-memory-unused -Os -Os --strip-producers --strip-target-features)
for dir in web node; do
  echo "pkg: wasm-opt ${WASM_OPT_SIZE[*]} ($dir, about 10 s)"
  wasm-opt "${WASM_OPT_SIZE[@]}" "${WASM_OPT_FEATURES[@]}" "$OUT/$dir/tokenwarden_bg.wasm" -o "$OUT/$dir/tokenwarden_bg.wasm"
  # The glue's and the module's shared names (imports `__wbg_<name>_<hash>`, exports such as
  # `engine_before`) shortened in both: full build 112,305 -> 108,716 B gzip (wasm -2,300, JS
  # -1,289), without verification 46,324 -> 45,239 B (wasm -687, JS -398).
  node scripts/short-wasm-names.mjs "$OUT/$dir/tokenwarden_bg.wasm" "$OUT/$dir/tokenwarden.js"
done

# driver.js in builds without the OAuth profile: the lines from each `// @oauth-begin` to its
# `// @oauth-end` are left out (the rest of every shipped .js is minified at the end).
drop_oauth() { sed -i '/^\s*\/\/ @oauth-begin/,/^\s*\/\/ @oauth-end/d' "$1"; }

# Names exported by the module (the same in both builds).
NAMES=$(node -e '
  const src = require("fs").readFileSync(process.argv[1], "utf8");
  const names = [...src.matchAll(/^export (?:class|function|const) (\w+)/gm)].map(m => m[1])
    .filter(n => n !== "initSync" && !n.startsWith("__"));
  console.log(names.join(", "));' "$OUT/web/tokenwarden.js")

# verifyJwt and KeySet come from verify.js (builds with verification): it reads their options
# (with the driver's readers) and makes the one WebCrypto call of a verification; wasm does every
# check (__verifyBegin, KeySet#__begin), with no Rust future in between.
WRAP="export { verifyJwt, KeySet } from './verify.js';"
if ! grep -qw KeySet <<<"$NAMES"; then
  # A build without verification (--no-default-features) has no verifyJwt or KeySet.
  WRAP=''
fi
# The public TokenManager is custody.js's: in page custody the JS driver (driver.js) over the
# wasm Engine, in worker custody a thin object talking to worker.js, which runs the driver.
# No wasm class is exported as is, and no Rust shell is linked (the driver covers every option).
EXPORTS=$(echo "$NAMES" | tr -d ' ' | tr ',' '\n' | grep -vxE 'verifyJwt|KeySet|Engine|OAuthEngine|DpopCore|TokenManager' | paste -sd, | sed 's/,/, /g')
# custody.js: the TokenManager export (custody "page" or "worker"); remote.js (loaded on first
# use of custody "worker") and worker.js: the page's and the worker's side of worker custody
# (browser build only: Node has no module Web Workers, and its custody.js refuses "worker").
# The OAuth profile's I/O (oauth.js, over the wasm OAuthEngine); a build without it gets a stub
# and a driver without the profile's hooks. All minified at the end, as the glue.
for dir in web node; do
  cp src/js/custody.js "$OUT/$dir/custody.js"
  cp src/js/driver.js "$OUT/$dir/driver.js"
  if grep -qw OAuthEngine <<<"$NAMES"; then
    cp src/js/oauth.js "$OUT/$dir/oauth.js"
  else
    drop_oauth "$OUT/$dir/driver.js"
    echo 'export const OAuth = undefined, dpopHooks = {};' > "$OUT/$dir/oauth.js"
  fi
  # DPoP's WebCrypto side, which driver.js imports; a build without DPoP (no DpopCore) ships a
  # stub in its place.
  if grep -qw DpopCore <<<"$NAMES"; then
    cp src/js/dpop.js "$OUT/$dir/dpop.js"
  else
    echo 'export const Dpop = undefined, sendWithProof = undefined;' > "$OUT/$dir/dpop.js"
  fi
done
for file in remote worker; do
  cp "src/js/$file.js" "$OUT/web/$file.js"
done
if [ -n "$WRAP" ]; then
  for dir in web node; do
    cp src/js/verify.js "$OUT/$dir/verify.js"
  done
fi
cat > "$OUT/web/index.js" <<JS
// Browser entry: instantiates the module once, with top-level await, so no init call is needed.
import init from './tokenwarden.js';
await init({ module_or_path: new URL('./tokenwarden_bg.wasm', import.meta.url) });
$WRAP
export { $EXPORTS } from './tokenwarden.js';
export { TokenManager } from './custody.js';
JS
cat > "$OUT/node/index.js" <<JS
// Node entry: the module is loaded synchronously on import.
$WRAP
export { $EXPORTS } from './tokenwarden.js';
export { TokenManager } from './custody.js';
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
  "sideEffects": ["./web/index.js", "./node/index.js", "./web/driver.js", "./node/driver.js", "./web/custody.js", "./node/custody.js"],
  "engines": { "node": ">=20" }
}
JSON
cp README.md "$OUT/README.md" 2>/dev/null || true
rm -f "$OUT"/*/.gitignore
# Every shipped .js of web/ and node/ is minified with esbuild (a devDependency; full build's glue
# gzip -9 9.9 -> 7.8 KB). Without --format esbuild keeps the module as it is (ESM, import
# specifiers, import.meta.url, top-level await) and renames only local names: exported classes and
# functions keep their names; non-exported ones (custody.js's worker-custody class) do not, as
# --keep-names would cost 1.1 KB gzip for names nothing reads. No source maps, no eval.
minify_js() {
  local file
  command -v esbuild >/dev/null || { echo "pkg: esbuild is missing: run scripts/setup.sh (npm ci)" >&2; exit 1; }
  echo "pkg: esbuild --minify $(esbuild --version) ($OUT/web/*.js, $OUT/node/*.js)"
  for file in "$OUT"/web/*.js "$OUT"/node/*.js; do
    # In the glue only: its private handle names, which no other file reads (-44 / -29 B).
    local mangle=()
    [ "${file##*/}" = tokenwarden.js ] && mangle=(--mangle-props='^(__wbg_ptr|__destroy_into_raw)$')
    esbuild "$file" --minify --charset=utf8 --legal-comments=none --log-level=warning \
      "${mangle[@]}" --outfile="$file" --allow-overwrite
  done
  # The entry bundled with what it imports (custody, driver, OAuth, DPoP, verify: one scope, so
  # their shared names are renamed too; -0.1 KB gzip), but not the glue (one module instance:
  # init() hands back the page's exports) nor remote.js (loaded on use). worker.js keeps
  # importing driver.js and the glue, which stay in web/ for it (node/dpop.js for direct use).
  for dir in web node; do
    esbuild "$OUT/$dir/index.js" --bundle --format=esm --minify --charset=utf8 --legal-comments=none \
      --log-level=warning --external:./tokenwarden.js --external:./remote.js --external:'node:*' \
      --outfile="$OUT/$dir/index.js" --allow-overwrite
  done
}
minify_js

# --- react entry ---
# `tokenwarden/react` (src/js/react.js): React bindings over the public TokenManager API, so one
# file serves every entry and both custodies. It imports only `react` (an optional peer
# dependency, never bundled) and nothing from the wasm; minified like the rest (gzip -9: 1,178 B,
# budget in scripts/size-budget-react.sh).
esbuild src/js/react.js --minify --charset=utf8 --legal-comments=none --log-level=warning --outfile="$OUT/react.js"
cp src/js/react.d.ts "$OUT/react.d.ts"
node -e '
  const fs = require("fs");
  const file = process.argv[1];
  const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  const { "./package.json": self, ...entries } = pkg.exports;
  pkg.exports = { ...entries, "./react": { types: "./react.d.ts", default: "./react.js" }, "./package.json": self };
  pkg.files.push("react.js", "react.d.ts");
  pkg.peerDependencies = { ...pkg.peerDependencies, react: ">=18" };
  pkg.peerDependenciesMeta = { ...pkg.peerDependenciesMeta, react: { optional: true } };
  fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");' "$OUT/package.json"
# --- end react entry ---

for dir in web node; do
  printf 'pkg: %s wasm %s bytes (gzip -9: %s), glue gzip -9: %s bytes\n' "$OUT/$dir" \
    "$(stat -c %s "$OUT/$dir/tokenwarden_bg.wasm")" \
    "$(gzip -9c "$OUT/$dir/tokenwarden_bg.wasm" | wc -c)" \
    "$(cd "$OUT/$dir" && cat tokenwarden.js index.js | gzip -9c | wc -c)"
done
printf 'pkg: %s/web: worker custody only (remote.js, worker.js) gzip -9: %s + %s bytes\n' "$OUT" \
  "$(gzip -9c "$OUT/web/remote.js" | wc -c)" "$(gzip -9c "$OUT/web/worker.js" | wc -c)"
