#!/usr/bin/env bash
# Size budget of the npm package's entries (a test, not a benchmark: the builds are deterministic):
# for each entry (tokenwarden, tokenwarden/oauth, tokenwarden/verify in pkg/, pkg/oauth/,
# pkg/verify/) gzip -9 of its browser wasm plus the JS a page importing it loads (the glue
# tokenwarden.js and index.js, the entry bundled with driver, custody, OAuth, DPoP, verify as the
# entry has them); fails above its ratchet. Then a symbol check: no signature crate in any entry,
# no OAuth and no DPoP in tokenwarden, no DPoP verifier in the manager entries, no OAuth in verify.
# Usage: scripts/size-budget.sh [PKG_DIR]   (pkg/, built by `make test-js`; built here if missing)
# Ratchets can be tightened with SIZE_BUDGET_BASE / SIZE_BUDGET_OAUTH / SIZE_BUDGET_VERIFY.
# History (before the entries, one module for every use, "full", and a build without verification):
# December 2026: full 97.8 KB
# before the OAuth profile (+32.3 KB) and DPoP (+15 KB, client and verifyDpopProof) came in, now
# 145.1 KB (DPoP with the OAuth profile: +0.4 KB); without verification 83.9 -> 87.8 KB (neither
# feature is in that build; what remains is shared code: the hint of a DPoP token type, the decoding path verification shares).
# Worker custody (custody.js, loaded by every page: the custody switch and the thin worker-custody
# object; its worker side loads on use) adds 1.7 KB to both, and the cross-tab `shareTokens`
# switch 0.9 KB of gzip to the full build's wasm (96 raw bytes): 145.1 -> 147.7 KB, 87.8 -> 89.5 KB.
# Duplicate members checked without the standard sort (-1.5 KB) and the glue shipped without the
# doc comments wasm-bindgen copies into it (-2.3 KB): 143.1 KB full, 86.5 KB without verification.
# The Rust API's worker custody (its code only with the `worker-custody` feature; the shell's
# hooks for it stay): +1.1 / +0.8 KB, 144.2 / 87.3 KB.
# Then the package's TokenManager became a JS driver (driver.js) over a wasm engine of
# synchronous calls (src/js/engine.rs), which custody.js gives in page custody and worker.js
# runs in worker custody: without verification no Rust shell is linked, 52.8 KB before worker
# custody; the full build still carries the Rust shell for the `oauth` and `dpop` options next to
# the engine and driver, until those two move into the driver too. Measured, not adopted:
# nightly `-Zbuild-std` with `-Cpanic=immediate-abort` takes the wasm without verification from
# 41.2 to 34.0 KB.
# With worker custody merged (custody.js over the driver, the engine's `shareTokens`): 157,715 B
# full and 52,865 B without verification. verifyJwt's options read in verify.js (verification's
# share 17.7 -> 15.1 KB; the full build, which still links the Rust shell's readers, +0.6 KB):
# 158,349 B full, 52,917 B without verification.
# The OAuth profile in the driver too (oauth.js over the wasm OAuthEngine): a build with OAuth and
# without DPoP links no Rust shell; the full build still carries the shell for `dpop: true`, so it
# holds both OAuth paths until DPoP moves into the driver.
# DPoP in the driver too (dpop.js over the wasm DpopCore): a build with DPoP and without OAuth
# links no Rust shell; the full build still carries it for `oauth` with `dpop: true`.
# Shipped JS minified with esbuild and wasm-opt -Os twice with --low-memory-unused: 141.1 / 84.9 KB.
# All merged (driver with worker custody, OAuth, DPoP; minified), OAuth with DPoP in the driver and
# no Rust shell linked by any option: full 116,538 B (wasm 99,527 + JS 17,011), without
# verification 50,129 B (wasm 39,620 + JS 10,509).
# Then the npm wasm became no_std (no `std` feature: a panic traps, the talc allocator instead of
# std's dlmalloc and panic runtime): full 116,538 -> 112,305 B, without verification 50,129 -> 46,324 B.
# Then the JS paths of the wasm without core::fmt (messages concatenated, the same text) and without
# panicking slices and indexes (get(), slice patterns), which linked fmt's integer and Debug code:
# without verification 46,324 -> 39,852 B (wasm 35,815 -> 29,343); the full build, which still links
# fmt (OAuth and DPoP errors, format!, js-sys's future_to_promise), 112,305 -> 112,905 B.
# Import and export names shared by the glue and the module shortened in both (short-wasm-names.mjs),
# the glue's private handle names mangled: full 108,687 B (wasm 92,991 + JS 15,696), without
# verification 45,205 B (wasm 35,128 + JS 10,077). The entry bundled with the JS it imports (the glue
# apart): 108,551 / 45,103 B; the JS counted is what the entry loads, the glue and index.js.
# Both together: full 109,105 B, without verification 38,629 B (the 40 KB goal met; next goal 32 KB).
# Then the package became three entries, each its own wasm (scripts/build-pkg.sh): the budgets are
# per entry, a page load each (its wasm + glue + the entry JS it loads, gzip -9), and a symbol
# check holds what each entry may link.
# -Zlocation-detail=none and -Zfmt-debug=none in the nightly build (the source paths of
# `#[track_caller]` locations were still in the modules): tokenwarden 38,090 -> 37,890 B,
# tokenwarden/oauth 87,482 -> 87,166 B, tokenwarden/verify unchanged (65,913 B).
# verifyJwt and KeySet for JS behind their own feature (jwt-api, the verify entry's): the oauth
# entry, which verifies ID tokens through its engine, had them exported (with their option reader
# and key import): tokenwarden/oauth 87,166 -> 84,056 B (wasm 72,431 -> 69,574, JS 14,735 -> 14,482).
# The substring searches of URLs and DPoP challenges byte by byte (core::error::find; std's
# two-way searcher was 1.6 KB of wasm) and the callback's query decoded by the platform
# (URLSearchParams; the core checks the pairs: no form_urlencoded parser, no lossy UTF-8 in the
# module): -1.4 KB, which paid for the refresh answers' ID token check in the package (+0.5 KB):
# tokenwarden/oauth 84,056 -> 83,103 B (wasm 68,356 + JS 14,747), tokenwarden/verify
# 65,913 -> 65,018 B, tokenwarden 37,890 -> 37,893 B.
# loginWithPopup (the popup's window calls, the in-memory transaction and the wait on the
# BroadcastChannel in oauth.js; popupRedirectUri in the engine): tokenwarden/oauth +939 B, 83,103 ->
# 84,042 B (wasm 68,696 + JS 15,346); the callback page's tokenwarden/popup loads no wasm.
# persist: "dpop" (the key and the refresh token bound to it in IndexedDB; oauth.js and the
# driver's hooks): +427 B of JS. The address bar's cleaning after a callback with the platform's
# URLSearchParams (the core still names the parameters: OAuthEngine.responseParam; no query
# encoder or Vec of pairs in the module): -549 B. tokenwarden/oauth 83,904 B (wasm 68,054 + JS 15,850).
# What few page loads use, loaded on use (oauth-more.js, a module oauth.js imports when called):
# loginWithPopup's wait for the popup's answer and persist's IndexedDB record: -386 B of JS,
# tokenwarden/oauth 83,518 B (wasm 68,054 + JS 15,464).
# Endpoint checks byte by byte (no Vec of the host's labels, no integer parser, no
# strip_prefix/find helpers): -578 B of wasm, tokenwarden/oauth 82,940 B (wasm 67,476 + JS 15,464);
# tokenwarden, which links none of it, 37,887 -> 37,907 B (the optimizer inlined one slice
# comparison differently).
# A login's authorization request (its options, the random bytes, the verifier's digest) in
# oauth-more.js too, loaded when a login starts: -368 B of JS at page load, tokenwarden/oauth
# 82,572 B (wasm 67,476 + JS 15,096); oauth-more.js is 1,302 B, loaded on use.
# oauth.resources (a token per API: each held by a wasm Engine of its own, the session's token box
# reused, so the module gained only the APIs' refresh requests; their grants in oauth-more.js):
# +1,217 B (wasm +363, JS +854), paid for by the three cuts above (-1,332 B) in the same
# change: tokenwarden/oauth 83,789 B (wasm 67,839 + JS 15,950), under the 84,200 B held before
# them; oauth-more.js 1,539 B on use. (A first design with the tokens in an engine table of their
# own cost +3,702 B.) tokenwarden 37,908 B (+1 B of driver.js).
# OAuthEngine's constructor and authorize() take their strings in one array (a constructor of nine
# arguments, six of them optional strings, and one of eight had the longest shims and glue of the
# module): -530 B, tokenwarden/oauth 83,259 B (wasm 67,437 + JS 15,822).
# The APIs' scopes added to every login's scope by the core (ClientConfig::api_scope, login_scope)
# instead of by oauth.js on the configured scope only (a login's own `scope` dropped them, and
# oauth.js repeated the core's default scope): +131 B, tokenwarden/oauth 83,390 B (wasm 67,617 +
# JS 15,773); the ratchet 83,300 -> 83,400, below the 84,200 B this series started from.
# The manager's composition moved from the engine into the core (core::manager, the Shell trait
# the engine implements: the machine is compiled once for it), the engine's getters of the
# session's times in one call (times()), and state, claims, the ID token hint and the DPoP
# thumbprint returned as JS strings made straight from their bytes (no String copied out
# through the glue): tokenwarden 37,908 -> 37,805 B (wasm 27,852 + JS 9,953), tokenwarden/oauth
# 83,390 -> 83,333 B (wasm 67,627 + JS 15,706), tokenwarden/verify 65,019 -> 64,818 B. (With a
# closure for the manager's outputs instead of a trait, one enum of actions matched twice, the
# first design cost +413 B on tokenwarden.)
# The session-hint rule of the page side of worker custody (remote.js, a third copy, which
# counted a blank value as a session) dropped: the page's cookies go to the worker's driver,
# whose rule is exported for the vector test it shares with the core: tokenwarden 37,818 B,
# tokenwarden/oauth 83,347 B. (The rule in wasm, called by the driver, cost +546 B of wasm for
# the strings' passage and the bytes' scan: not taken.)
# The npm TokenManager's engine behind a cargo feature (`engine`, the manager entries'): every
# wasm32 build had carried it (wasm-bindgen keeps every export), tokenwarden/verify too, which
# has no TokenManager: tokenwarden/verify 64,818 -> 47,880 B (wasm 60,400 -> 43,960).
# Every timing rule the core's (the refresh policy's bounds, the one timer, Retry-After, a
# login's maxAge and a popup's wait) cost wasm: +983 B on tokenwarden at first (each new export
# ~300 B of shim). Paid for by fewer, coarser exports: the engine's numeric inputs and readings
# one `input(code, now, a, b)`, its constructor taking numbers, not arrays (an array argument
# brings its own copying code), the OAuth engine's and the DPoP core's argument-less readings
# one `get` each, and milliseconds from JS read with one `as` (no is_finite branches):
# tokenwarden 37,512 -> 37,323 B (wasm 28,033 + JS 9,290), tokenwarden/oauth 83,114 -> 82,963 B
# (wasm 68,106 + JS 14,857), tokenwarden/verify 47,687 -> 47,477 B (the option ranges in wasm,
# verify.js's copies gone). (A second export to check a login's options before discovery cost
# +138 B on tokenwarden/oauth: the core checks them with the provider's metadata, as the Rust
# shell does.)
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=${1:-pkg}
RAW=${TW_RAW_WASM_DIR:-target/pkg-raw}  # cargo's artefacts before wasm-opt (build-pkg.sh copies them)

# Ratchets (bytes), a little above what this build measures; they only move down. The issue's
# targets: tokenwarden <= 32,000 (aim 25,000), tokenwarden/oauth <= 60,000 (aim 45,000).
BUDGET_BASE=${SIZE_BUDGET_BASE:-37350}      # measured 37,323 B (wasm 28,033 + JS 9,290; nightly build-std, no track_caller locations)
BUDGET_OAUTH=${SIZE_BUDGET_OAUTH:-83000}   # measured 82,963 B (wasm 68,106 + JS 14,857; no fmt, no DPoP verifier, no verifyJwt/KeySet)
BUDGET_VERIFY=${SIZE_BUDGET_VERIFY:-47500}  # measured 47,477 B (wasm 43,927 + JS 3,550; opt-level 3, wasm-opt -O3; no TokenManager engine)
TARGET_BASE=32000
TARGET_OAUTH=60000

[ -f "$PKG/verify/web/tokenwarden_bg.wasm" ] || scripts/build-pkg.sh "$PKG"

size_of() { # gzip -9 bytes of an entry's page load: wasm + glue + index.js (the bundled entry JS)
  local dir=$1/web wasm glue
  wasm=$(gzip -9c "$dir/tokenwarden_bg.wasm" | wc -c)
  glue=$(cd "$dir" && cat tokenwarden.js index.js | gzip -9c | wc -c)
  echo "$((wasm + glue)) $wasm $glue"
}

status=0
check() { # check NAME DIR BUDGET [TARGET]
  local size wasm glue
  read -r size wasm glue < <(size_of "$2")
  printf 'size: %-18s %6d bytes gzip (wasm %d + JS %d); budget %d%s\n' "$1" "$size" "$wasm" "$glue" "$3" \
    "${4:+, issue target $4}"
  if [ "$size" -gt "$3" ]; then
    echo "size: $1 is over its budget by $((size - $3)) bytes" >&2
    status=1
  fi
}
check tokenwarden "$PKG" "$BUDGET_BASE" "$TARGET_BASE"
check tokenwarden/oauth "$PKG/oauth" "$BUDGET_OAUTH" "$TARGET_OAUTH"
check tokenwarden/verify "$PKG/verify" "$BUDGET_VERIFY"

# What each entry may link, read from the names of its wasm (scripts/wasm-symbols.mjs: exports
# and the name section's Rust symbols). A pattern is an extended regex over those lines.
SIGNATURE_CRATES='^func _ZN[0-9]+(jwt_compact|p256|rsa|ed25519_compact|sha2|hmac|getrandom|ecdsa|elliptic_curve|crypto_bigint|num_bigint_dig)[0-9]'
# wasm-bindgen's exports end in a hash suffix (`verifyDpopProof_58e6cfc8aadbeaf4`).
OAUTH='^export (__wbg_|__wbindgen_describe_)?oauthengine_|^func .*(11tokenwarden4core5oauth|11tokenwarden2js12engine_oauth)'
DPOP_VERIFIER='^export (__wbindgen_describe_)?verifyDpopProof(_[0-9a-f]+)?$|^func .*(11tokenwarden2js4dpop17verify_dpop_proof|11tokenwarden4core4dpop8verifier)'
DPOP_CLIENT='^export (__wbg_|__wbindgen_describe_)?dpopcore_|^func .*11tokenwarden2js11engine_dpop'
# core::fmt's machinery (the standard library's v0 names and the crates' legacy ones), and a Rust
# future handed to JS (js-sys's own JSPI waker table, about 500 B that nothing of ours calls, is
# not counted). The browser entries link neither: their errors are built by concatenation and
# every call is synchronous (the nightly build's immediate-abort panics leave no formatting).
# verifyJwt and KeySet for JS (feature jwt-api: tokenwarden/verify only; tokenwarden/oauth verifies
# its ID tokens through its own engine).
JWT_API='^export (__wbg_|__wbindgen_describe_)?(keyset_|__verifyBegin)|^func .*11tokenwarden2js6verify(20parse_verify_options|11import_keys)'
FMT='^func .*4core3fmt(5write|[A-Za-z0-9_]*9Formatter(3pad|12pad_integral))'
FUTURE='^func .*(17future_to_promise|11spawn_local|20wasm_bindgen_futures|7futures5queue)'

forbid() { # forbid ENTRY WHAT PATTERN: fails if the entry's wasm links a name matching PATTERN
  local file="$RAW/$1.wasm" found
  found=$(node scripts/wasm-symbols.mjs "$file" | grep -E "$3" | head -n 5 || true)
  if [ -n "$found" ]; then
    echo "size: symbols: the $1 entry links $2:" >&2
    sed 's/^/    /' <<<"$found" >&2
    status=1
  else
    echo "size: symbols: the $1 entry links no $2"
  fi
}
for entry in base oauth verify; do
  [ -f "$RAW/$entry.wasm" ] || { echo "size: $RAW/$entry.wasm is missing: run scripts/build-pkg.sh" >&2; exit 2; }
  forbid "$entry" 'signature crate (WebCrypto verifies)' "$SIGNATURE_CRATES"
done
forbid base 'OAuth' "$OAUTH"
forbid base 'DPoP client (DPoP is in tokenwarden/oauth)' "$DPOP_CLIENT"
forbid base 'DPoP verifier' "$DPOP_VERIFIER"
forbid oauth 'DPoP verifier (dpop-verify: tokenwarden/verify only)' "$DPOP_VERIFIER"
forbid base 'verifyJwt or KeySet (jwt-api: tokenwarden/verify only)' "$JWT_API"
forbid oauth 'verifyJwt or KeySet (jwt-api: tokenwarden/verify only)' "$JWT_API"
forbid verify 'OAuth' "$OAUTH"
for entry in base oauth; do
  forbid "$entry" 'core::fmt' "$FMT"
  forbid "$entry" 'Rust future' "$FUTURE"
done
scripts/size-budget-react.sh "$PKG" || status=1  # tokenwarden/react, its own budget
exit $status
