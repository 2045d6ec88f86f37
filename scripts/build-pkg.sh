#!/usr/bin/env bash
# Builds the npm package into pkg/ (about 3-5 minutes cold, 30 s warm): three entries, each its
# own wasm built from its own cargo features, its own wasm-bindgen glue and its own declarations,
# so that a page downloads only the module of the entry it imports:
#   pkg/                 `tokenwarden`: the dialect manager (login, refresh, logout, tabs, worker
#                        custody) and decodeJwt; no signature verification, no OAuth, no DPoP
#   pkg/oauth/           `tokenwarden/oauth`: the manager with the OAuth/OIDC profile (ID tokens
#                        verified with WebCrypto) and the DPoP client (`dpop: true`, both profiles)
#   pkg/verify/          `tokenwarden/verify`: verifyJwt, KeySet, decodeJwt, verifyDpopProof
#                        (servers and pages that verify; compiled for speed, see VERIFY_OPT_LEVEL)
# Each entry directory holds
#   web/   wasm-bindgen --target web + an entry that instantiates the module with top-level
#          await, so browsers, Vite and <script type="module"> need no init call (manager entries:
#          remote.js and worker.js too; worker custody loads this same directory's wasm);
#   node/  wasm-bindgen --target experimental-nodejs-module (ESM, loads synchronously);
#   index.d.ts
# and pkg/package.json maps `exports` subpaths (`types`, `node`, `default` conditions) to them.
# The pre-wasm-opt cargo artefact of each entry (its name section intact) is copied to
# target/pkg-raw/<entry>.wasm for the symbol check of scripts/size-budget.sh.
# Usage: scripts/build-pkg.sh [OUT_DIR]                        the package (three entries)
#        scripts/build-pkg.sh OUT_DIR CARGO_FEATURE_ARGS...    one custom build (one entry, no
#   subpaths), e.g. scripts/build-pkg.sh target/pkg-hmacsync --no-default-features --features hmac-sync
#   (pass --no-default-features with the features wanted: `default` has `std`, see Cargo.toml)
# Env: TW_JS_DIR (default src/js): the package's JS sources (the scenario suite builds a package
# from a copy with a deliberate divergence, to show that it fails; scripts/test-scenarios.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-pkg}
shift || true
JS=${TW_JS_DIR:-src/js}
export PATH="$PWD/node_modules/.bin:$PATH"

# The entries' cargo features, in this one place. No feature list has `default`, whose `std` is
# for the Rust shell: these builds are `no_std` wasm (smaller). HMAC is in the verify entry only
# (oct keys are still refused unless allowSymmetricKeys is set); the manager entries have none.
# `engine`: the TokenManager's wasm (the manager entries only).
FEATURES_BASE=(--no-default-features --features engine)
FEATURES_OAUTH=(--no-default-features --features engine,es256,eddsa,rsa,oauth,dpop)
FEATURES_VERIFY=(--no-default-features --features es256,eddsa,rsa,hmac,dpop-verify,jwt-api)
# The verify entry is for Node and servers first: compiled for speed. Its rustc opt-level
# (Cargo.toml's release profile has "z", kept by the manager entries) and its wasm-opt passes.
VERIFY_OPT_LEVEL=${TW_VERIFY_OPT_LEVEL:-3}
# shellcheck disable=SC2206
WASM_OPT_VERIFY=(${TW_VERIFY_WASM_OPT:---low-memory-unused -O3 --strip-producers --strip-target-features})

# build_wasm TARGET_DIR CARGO_FEATURE_ARGS...: builds the release wasm (cargo's output on stderr)
# and prints the path of the built .wasm, nothing else. Env (e.g. CARGO_PROFILE_RELEASE_OPT_LEVEL)
# passes through.
build_wasm() {
  scripts/wasm-release.sh "$@"
}

# A target dir per feature set (and profile), so that switching entries rebuilds nothing.
target_dir_for() { echo "target/pkg-build-$(echo "$*" | tr -c 'a-z0-9' '_')"; }

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

# driver.js in builds without the OAuth profile: the lines from each `// @oauth-begin` to its
# `// @oauth-end` are left out (the rest of every shipped .js is minified at the end).
drop_oauth() { sed -i '/^\s*\/\/ @oauth-begin/,/^\s*\/\/ @oauth-end/d' "$1"; }

# declarations KEEP...: src/js/tokenwarden.d.ts without the `// @<tag>-begin` .. `// @<tag>-end`
# blocks whose tag is not kept (tags: manager, base, oauth, verify; see the file).
declarations() {
  local script='' tag
  for tag in manager base oauth verify; do
    [[ " $* " == *" $tag "* ]] || script+="/^\/\/ @$tag-begin/,/^\/\/ @$tag-end/d;"
  done
  sed -e "$script" -e '/^\/\/ @[a-z]*-\(begin\|end\)/d' "$JS"/tokenwarden.d.ts
}

# build_entry DIR KIND WASM_OPT_ARGS -- CARGO_FEATURE_ARGS...: one entry (KIND base, oauth, verify
# or custom) into DIR/web, DIR/node and DIR/index.d.ts.
build_entry() {
  local OUT=$1 KIND=$2 WASM WASM_OPT=() TARGET_DIR
  shift 2
  while [ "$1" != -- ]; do WASM_OPT+=("$1"); shift; done
  shift
  local FEATURES=("$@")
  TARGET_DIR=$(target_dir_for "${FEATURES[@]}")
  echo "pkg: $KIND: cargo build --release --target wasm32-unknown-unknown ${FEATURES[*]} ${CARGO_PROFILE_RELEASE_OPT_LEVEL:+(opt-level $CARGO_PROFILE_RELEASE_OPT_LEVEL)} (about 1 minute cold)"
  [ -z "${CARGO_PROFILE_RELEASE_OPT_LEVEL:-}" ] || TARGET_DIR+="_opt$CARGO_PROFILE_RELEASE_OPT_LEVEL"
  WASM=$(build_wasm "$TARGET_DIR" "${FEATURES[@]}")
  if [ "$KIND" != custom ]; then
    mkdir -p target/pkg-raw
    cp "$WASM" "target/pkg-raw/$KIND.wasm"
  fi
  rm -rf "$OUT/web" "$OUT/node" "$OUT/index.d.ts"
  mkdir -p "$OUT/web" "$OUT/node"
  echo "pkg: $KIND: wasm-bindgen (web, node)"
  wasm-bindgen --target web --out-dir "$OUT/web" --out-name tokenwarden "$WASM"
  wasm-bindgen --target experimental-nodejs-module --out-dir "$OUT/node" --out-name tokenwarden "$WASM"
  local dir file
  for dir in web node; do
    echo "pkg: $KIND: wasm-opt ${WASM_OPT[*]} ($dir, about 10 s)"
    wasm-opt "${WASM_OPT[@]}" "${WASM_OPT_FEATURES[@]}" "$OUT/$dir/tokenwarden_bg.wasm" -o "$OUT/$dir/tokenwarden_bg.wasm"
    # The glue's and the module's shared names (imports `__wbg_<name>_<hash>`, exports such as
    # `engine_before`) shortened in both: full build 112,305 -> 108,716 B gzip (wasm -2,300, JS
    # -1,289), without verification 46,324 -> 45,239 B (wasm -687, JS -398).
    node scripts/short-wasm-names.mjs "$OUT/$dir/tokenwarden_bg.wasm" "$OUT/$dir/tokenwarden.js"
    node scripts/trim-glue.mjs "$OUT/$dir/tokenwarden.js"
  done

  # Names exported by the module (the same in both builds).
  local NAMES
  NAMES=$(node -e '
    const src = require("fs").readFileSync(process.argv[1], "utf8");
    const names = [...src.matchAll(/^export (?:class|function|const) (\w+)/gm)].map(m => m[1])
      .filter(n => n !== "initSync" && !n.startsWith("__"));
    console.log(names.join(", "));' "$OUT/web/tokenwarden.js")
  has() { grep -qw "$1" <<<"$NAMES"; }

  # verifyJwt and KeySet come from verify.js (builds with verification): it reads their options
  # (with the driver's readers) and makes the one WebCrypto call of a verification; wasm does every
  # check (__verifyBegin, KeySet#__begin), with no Rust future in between. The OAuth profile
  # imports only the signature verdict (verdict.js, which verify.js imports too): the oauth entry's
  # wasm has no KeySet (no `jwt-api` feature) and it ships no verify.js.
  local WRAP="export { verifyJwt, KeySet } from './verify.js';" MANAGER=1 EXPORTS KEEP
  case $KIND in
    base) KEEP='manager base'; WRAP='' ;;
    oauth) KEEP='manager oauth'; WRAP='' ;;
    verify) KEEP='verify'; MANAGER='' ;;
    custom) if ! has Engine; then KEEP='verify'; MANAGER=''
      elif has KeySet; then KEEP='manager oauth verify'; else KEEP='manager base'; WRAP=''; fi ;;
  esac
  if [ -n "$MANAGER" ]; then
    # The public TokenManager is custody.js's: in page custody the JS driver (driver.js) over the
    # wasm Engine, in worker custody a thin object talking to worker.js, which runs the driver.
    # No wasm class is exported as is, and no Rust shell is linked (the driver covers every option).
    EXPORTS=$(echo "$NAMES" | tr -d ' ' | tr ',' '\n' | grep -vxE 'verifyJwt|KeySet|Engine|OAuthEngine|DpopCore|TokenManager' | paste -sd, | sed 's/,/, /g')
    # A manager entry exports verifyDpopProof only in a custom build that verifies.
    [ -n "$WRAP" ] || EXPORTS=$(echo "$EXPORTS" | sed -E 's/(, )?verifyDpopProof//; s/^, //')
  else
    # The verify entry: the verification functions only, no manager (no driver, no custody).
    EXPORTS=$(echo "$NAMES" | tr -d ' ' | tr ',' '\n' | grep -xE 'decodeJwt|verifyDpopProof' | paste -sd, | sed 's/,/, /g')
  fi
  # custody.js: the TokenManager export (custody "page" or "worker"); remote.js (loaded on first
  # use of custody "worker") and worker.js: the page's and the worker's side of worker custody
  # (browser build only: Node has no module Web Workers, and its custody.js refuses "worker").
  # The OAuth profile's I/O (oauth.js, over the wasm OAuthEngine); a build without it gets a stub
  # and a driver without the profile's hooks. All minified at the end, as the glue.
  for dir in web node; do
    # driver.js also holds the option readers verify.js uses (the verify entry bundles only those).
    cp "$JS"/driver.js "$OUT/$dir/driver.js"
    if has KeySet; then cp "$JS"/verify.js "$OUT/$dir/verify.js"; fi
    if has KeySet || has OAuthEngine; then cp "$JS"/verdict.js "$OUT/$dir/verdict.js"; fi
    [ -n "$MANAGER" ] || continue
    cp "$JS"/custody.js "$OUT/$dir/custody.js"
    # redirect.js: the window's part of the OAuth redirect login (oauth.js in page custody,
    # remote.js answering the worker in worker custody; unused by the base entry's page load).
    cp "$JS"/redirect.js "$OUT/$dir/redirect.js"
    if has OAuthEngine; then
      cp "$JS"/oauth.js "$OUT/$dir/oauth.js"
      # What few logins use (the popup's wait, persist's IndexedDB), imported by oauth.js on use.
      cp "$JS"/oauth-more.js "$OUT/$dir/oauth-more.js"
    else
      drop_oauth "$OUT/$dir/driver.js"
      drop_oauth "$OUT/$dir/custody.js"
      echo 'export const OAuth = undefined, dpopHooks = {}, persisted = undefined;' > "$OUT/$dir/oauth.js"
    fi
    # DPoP's WebCrypto side, which driver.js imports; a build without DPoP (no DpopCore) ships a
    # stub in its place.
    if has DpopCore; then
      cp "$JS"/dpop.js "$OUT/$dir/dpop.js"
    else
      echo 'export const Dpop = undefined, sendWithProof = undefined;' > "$OUT/$dir/dpop.js"
    fi
  done
  if [ -z "$MANAGER" ]; then
    # verify.js imports driver.js's readers; driver.js imports these two, which the verify
    # entry leaves out (esbuild's bundle keeps only the readers).
    for dir in web node; do
      echo 'export const OAuth = undefined, dpopHooks = {}, persisted = undefined;' > "$OUT/$dir/oauth.js"
      echo 'export const Dpop = undefined, sendWithProof = undefined;' > "$OUT/$dir/dpop.js"
    done
  fi
  local MANAGER_EXPORT=''
  if [ -n "$MANAGER" ]; then
    MANAGER_EXPORT="export { TokenManager } from './custody.js';"
    cp "$JS"/remote.js "$JS"/worker.js "$OUT/web/"
  fi
  cat > "$OUT/web/index.js" <<JS
// Browser entry: instantiates the module once, with top-level await, so no init call is needed.
import init from './tokenwarden.js';
await init({ module_or_path: new URL('./tokenwarden_bg.wasm', import.meta.url) });
$WRAP
export { $EXPORTS } from './tokenwarden.js';
$MANAGER_EXPORT
JS
  cat > "$OUT/node/index.js" <<JS
// Node entry: the module is loaded synchronously on import.
$WRAP
export { $EXPORTS } from './tokenwarden.js';
$MANAGER_EXPORT
JS
  # shellcheck disable=SC2086
  declarations $KEEP > "$OUT/index.d.ts"
  rm -f "$OUT"/*/.gitignore
  minify_js "$OUT"
  for dir in web node; do
    printf 'pkg: %s wasm %s bytes (gzip -9: %s), glue gzip -9: %s bytes\n' "$OUT/$dir" \
      "$(stat -c %s "$OUT/$dir/tokenwarden_bg.wasm")" \
      "$(gzip -9c "$OUT/$dir/tokenwarden_bg.wasm" | wc -c)" \
      "$(cd "$OUT/$dir" && cat tokenwarden.js index.js | gzip -9c | wc -c)"
  done
  if [ -n "$MANAGER" ]; then
    printf 'pkg: %s/web: worker custody only (remote.js, worker.js) gzip -9: %s + %s bytes\n' "$OUT" \
      "$(gzip -9c "$OUT/web/remote.js" | wc -c)" "$(gzip -9c "$OUT/web/worker.js" | wc -c)"
  fi
}

# Every shipped .js of web/ and node/ is minified with esbuild (a devDependency; full build's glue
# gzip -9 9.9 -> 7.8 KB). Without --format esbuild keeps the module as it is (ESM, import
# specifiers, import.meta.url, top-level await) and renames only local names: exported classes and
# functions keep their names; non-exported ones (custody.js's worker-custody class) do not, as
# --keep-names would cost 1.1 KB gzip for names nothing reads. No source maps, no eval.
minify_js() {
  local out=$1 file dir
  command -v esbuild >/dev/null || { echo "pkg: esbuild is missing: run scripts/setup.sh (npm ci)" >&2; exit 1; }
  echo "pkg: esbuild --minify $(esbuild --version) ($out/web/*.js, $out/node/*.js)"
  for file in "$out"/web/*.js "$out"/node/*.js; do
    # In the glue only: its private handle names, which no other file reads (-44 / -29 B).
    local mangle=()
    [ "${file##*/}" = tokenwarden.js ] && mangle=(--mangle-props='^(__wbg_ptr|__destroy_into_raw)$')
    esbuild "$file" --minify --charset=utf8 --legal-comments=none --log-level=warning \
      "${mangle[@]}" --outfile="$file" --allow-overwrite
  done
  # The entry bundled with what it imports (custody, driver, OAuth, DPoP, verify: one scope, so
  # their shared names are renamed too; -0.1 KB gzip), but not the glue (one module instance:
  # init() hands back the page's exports) nor remote.js and oauth-more.js (loaded on use). worker.js keeps
  # importing driver.js and the glue, which stay in web/ for it (node/dpop.js for direct use).
  # Modules with no side effects on import: what the entry does not use is dropped (the verify
  # entry keeps only the option readers of driver.js).
  for dir in web node; do
    esbuild "$out/$dir/index.js" --bundle --format=esm --minify --charset=utf8 --legal-comments=none \
      --log-level=warning --external:./tokenwarden.js --external:./remote.js --external:./oauth-more.js --external:'node:*' \
      --outfile="$out/$dir/index.js" --allow-overwrite
  done
  # Files only the bundled entry used (the verify entry's driver.js and stubs) are not shipped.
  if [ ! -f "$out/web/custody.js" ]; then
    rm -f "$out"/{web,node}/{driver,oauth,dpop,verify}.js
  fi
}

VERSION=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
# package.json: ENTRIES is "subpath:dir" pairs ("." at the package's root).
write_package_json() {
  local out=$1 exports='' files='' side='' pair sub dir pre
  shift
  for pair in "$@"; do
    sub=${pair%%:*}; dir=${pair#*:}
    if [ "$dir" = . ]; then pre='.'; else pre="./$dir"; fi
    exports+="    \"$sub\": {
      \"types\": \"$pre/index.d.ts\",
      \"node\": \"$pre/node/index.js\",
      \"default\": \"$pre/web/index.js\"
    },
"
    if [ "$dir" = . ]; then files+='"index.d.ts", "web/", "node/", '; else files+="\"$dir/\", "; fi
    # Every entry has side effects (top-level await of the module); the driver and custody
    # register listeners on import.
    side+="\"$pre/web/index.js\", \"$pre/node/index.js\", "
    [ "$dir" = verify ] || side+="\"$pre/web/driver.js\", \"$pre/node/driver.js\", \"$pre/web/custody.js\", \"$pre/node/custody.js\", "
  done
  cat > "$out/package.json" <<JSON
{
  "name": "tokenwarden",
  "version": "$VERSION",
  "description": "Browser token manager (memory-only access tokens, silent refresh, fetch wrapping, OAuth/OIDC, DPoP) and a JWT verifier, in Rust and WebAssembly; one small module per entry",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "types": "./index.d.ts",
  "exports": {
$exports    "./react": { "types": "./react.d.ts", "default": "./react.js" },
    "./popup": { "types": "./popup.d.ts", "default": "./popup.js" },
    "./package.json": "./package.json"
  },
  "files": [${files%, }, "react.js", "react.d.ts", "popup.js", "popup.d.ts"],
  "sideEffects": [${side%, }],
  "peerDependencies": { "react": ">=18" },
  "peerDependenciesMeta": { "react": { "optional": true } },
  "engines": { "node": ">=20" }
}
JSON
}

if [ $# -gt 0 ]; then
  # One custom build (benchmarks, experiments): the feature list given, one entry at the root.
  rm -rf "$OUT"
  mkdir -p "$OUT"
  write_package_json "$OUT" .:.
  build_entry "$OUT" custom "${WASM_OPT_SIZE[@]}" -- "$@"
else
  rm -rf "$OUT"
  mkdir -p "$OUT"
  write_package_json "$OUT" .:. ./oauth:oauth ./verify:verify
  build_entry "$OUT" base "${WASM_OPT_SIZE[@]}" -- "${FEATURES_BASE[@]}"
  build_entry "$OUT/oauth" oauth "${WASM_OPT_SIZE[@]}" -- "${FEATURES_OAUTH[@]}"
  CARGO_PROFILE_RELEASE_OPT_LEVEL=$VERIFY_OPT_LEVEL \
    build_entry "$OUT/verify" verify "${WASM_OPT_VERIFY[@]}" -- "${FEATURES_VERIFY[@]}"
fi
cp README.md "$OUT/README.md" 2>/dev/null || true

# --- react entry ---
# `tokenwarden/react` (src/js/react.js): React bindings over the public TokenManager API, so one
# file serves every entry and both custodies. It imports only `react` (an optional peer
# dependency, never bundled) and nothing from the wasm; minified like the rest (gzip -9: 1,178 B,
# budget in scripts/size-budget-react.sh). Its `./react` subpath and peer dependency are written
# by write_package_json, with the other entries.
esbuild "$JS"/react.js --minify --charset=utf8 --legal-comments=none --log-level=warning --outfile="$OUT/react.js"
cp "$JS"/react.d.ts "$OUT/react.d.ts"
# --- end react entry ---
# `tokenwarden/popup` (src/js/popup.js): the callback page of loginWithPopup; no wasm, a few
# lines (it posts the page's URL on the login's BroadcastChannel and closes the window).
esbuild "$JS"/popup.js --minify --charset=utf8 --legal-comments=none --log-level=warning --outfile="$OUT/popup.js"
cp "$JS"/popup.d.ts "$OUT/popup.d.ts"
