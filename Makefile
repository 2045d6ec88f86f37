# tokenwarden — the two commands: `make demo` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export CHROMEDRIVER ?= /usr/bin/chromedriver
WASM := --target wasm32-unknown-unknown -p tokenwarden

.PHONY: setup pkg test test-custody test-lint test-host test-server-stores test-wasm-node test-wasm-browser test-manager test-js test-e2e test-oauth test-size test-dpop leptos-app test-leptos test-kit test-bench demo bench clean

## setup: install the toolchain pieces (idempotent; 8-12 minutes cold, seconds warm)
setup:
	@scripts/setup.sh

## pkg: build the npm package into pkg/ (about 1-2 minutes cold)
pkg: setup
	@scripts/build-pkg.sh pkg

## test: lint, host tests, wasm tests in Node and headless Chromium, JS tests
test: setup test-lint test-host test-wasm-node test-wasm-browser test-manager test-js test-custody test-e2e test-oauth test-size test-dpop test-leptos test-kit
	@echo "make test: all suites passed"

test-lint:
	@echo "== lint: rustfmt, clippy (host and wasm32), core purity (about 2 minutes cold)"
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p tokenwarden --all-targets --features hmac -- -D warnings
	cargo clippy $(WASM) --lib --tests --examples -- -D warnings
	cargo clippy $(WASM) --no-default-features -- -D warnings
	cargo clippy $(WASM) --no-default-features --features es256,eddsa,rsa,hmac,dpop -- -D warnings
	@# The npm package's own feature sets (no_std): the full build and verification's share build.
	cargo clippy $(WASM) --no-default-features --features es256,eddsa,rsa,oauth,dpop,hmac -- -D warnings
	cargo clippy $(WASM) --no-default-features --features es256,eddsa,rsa,hmac -- -D warnings
	cargo clippy $(WASM) --features portable,hmac --lib --tests -- -D warnings
	cargo clippy $(WASM) --features hmac-sync --lib --tests -- -D warnings
	cargo clippy $(WASM) --features worker-custody --lib -- -D warnings
	cargo clippy $(WASM) --features testing --lib --tests -- -D warnings
	scripts/check-core-purity.sh
	@echo "== feature subsets build: no verification, ES256 only, EdDSA only"
	cargo clippy -p tokenwarden --no-default-features -- -D warnings
	cargo clippy -p tokenwarden --no-default-features --features es256 -- -D warnings
	cargo clippy -p tokenwarden --no-default-features --features eddsa -- -D warnings
	cargo clippy -p tokenwarden --no-default-features --features rsa -- -D warnings

test-host:
	@echo "== host tests (library with and without hmac, server; about 3 minutes cold)"
	cargo test --workspace
	cargo test -p tokenwarden --features hmac

test-server-stores:
	@echo "== server stores: one contract for memory, SQLite and Redis; two instances on one Redis; restarts; Redis outages (about 1 minute; starts its own redis-server)"
	@command -v redis-server >/dev/null || { echo "redis-server not found: run scripts/setup.sh"; exit 1; }
	cargo test -p tokenwarden-server --test stores --test cluster

# The suites that need no server; the token manager's browser suite runs in test-manager.
WASM_SUITES := --lib --test rfc_vectors --test verify_wycheproof_webcrypto

test-wasm-node:
	@echo "== wasm32 tests in Node (core, session engine, RFC vectors, Wycheproof on WebCrypto)"
	cargo test $(WASM) --features hmac $(WASM_SUITES)
	@echo "== the same with the pure-Rust primitive linked in (feature portable, hosts without WebCrypto)"
	cargo test $(WASM) --features portable,hmac $(WASM_SUITES)
	@echo "== Wycheproof HMAC on HS256/384/512 computed in wasm (feature hmac-sync, not in the npm package)"
	cargo test $(WASM) --features hmac-sync --test verify_wycheproof_webcrypto

test-wasm-browser:
	@echo "== wasm32 tests in headless Chromium (the same suites)"
	@# As users run browser suites: wasm-pack test (with Debian's Chromium and chromedriver).
	WASM_BINDGEN_USE_BROWSER=1 wasm-pack test --headless --chrome -p tokenwarden --features hmac $(WASM_SUITES)
	WASM_BINDGEN_USE_BROWSER=1 wasm-pack test --headless --chrome -p tokenwarden --features portable,hmac $(WASM_SUITES)

test-manager:
	@echo "== TokenManager in headless Chromium against the reference server (about 1 minute)"
	cargo build -p tokenwarden-server
	TW_SERVER_BIN=target/debug/tokenwarden-server scripts/test-browser.sh

test-js: pkg
	@echo "== JS tests: the npm package in Node 20 and Chromium, interop with jose, types, a Vite app"
	ln -sfn ../pkg node_modules/tokenwarden
	cargo build -p tokenwarden-server
	scripts/node-consumer-smoke.sh
	@echo "== the build without verification (--no-default-features) loads and decodes"
	scripts/build-pkg.sh target/pkg-noverify --no-default-features
	node -e "import('./target/pkg-noverify/node/index.js').then((m) => { \
	  const sub = m.decodeJwt('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln').claims.sub; \
	  if (m.verifyJwt || typeof m.TokenManager !== 'function' || sub !== 'u1') process.exit(1); \
	  console.log('pkg-noverify: TokenManager and decodeJwt, no verifyJwt'); })"
	node_modules/.bin/tsc --noEmit -p tests/types/tsconfig.noverify.json
	@echo "pkg-noverify: its declarations type-check and declare no verifyJwt or KeySet"
	@echo "== the cost of verification in the npm package, and no signature crate linked (WebCrypto verifies)"
	@# Budget 14,800 B (scripts/size-budget-verify.sh's default), verification without the OAuth profile.
	scripts/build-pkg.sh target/pkg-verify --no-default-features --features es256,eddsa,rsa,hmac
	scripts/size-budget-verify.sh
	scripts/test-types.sh
	TW_SERVER_BIN=target/debug/tokenwarden-server scripts/test-vite.sh
	node --test --test-concurrency=1 tests/js/
	@echo "== the package's TokenManager in the build without verification (no Rust shell linked): manager and cross-tab suites"
	TW_PKG_DIR=target/pkg-noverify node --test --test-concurrency=1 tests/js/manager_pkg.test.mjs tests/js/tabs.test.mjs
	@echo "== the build with DPoP, without OAuth (no_std wasm, as the builds without OAuth are): verifyDpopProof and the package's DPoP"
	scripts/build-pkg.sh target/pkg-dpop-noauth --no-default-features --features es256,eddsa,rsa,hmac,dpop
	TW_PKG_DIR=target/pkg-dpop-noauth TW_SERVER_BIN=target/debug/tokenwarden-server node --test --test-concurrency=1 tests/js/dpop_module.test.mjs tests/js/dpop_pkg.test.mjs

test-e2e: pkg
	@echo "== end-to-end: the demo page in headless Chromium (screenshots in target/e2e/)"
	cargo build -p tokenwarden-server
	TW_SERVER_BIN=target/debug/tokenwarden-server scripts/test-e2e.sh

test-oauth: pkg
	@echo "== OAuth against oidc-provider: the core (Node) and the npm package in Chromium, with and without DPoP (Playwright; about 40 s warm)"
	cargo build -p tokenwarden --example oauth_cli
	cargo build -p tokenwarden-server
	node --test --test-concurrency=1 tests/oauth/

test-dpop:
	@echo "== DPoP in headless Chromium against a --dpop --dpop-nonce reference server (about 1 minute)"
	cargo build -p tokenwarden-server
	TW_SERVER_BIN=target/debug/tokenwarden-server scripts/test-dpop-browser.sh

## demo: build the package and serve the demo on http://127.0.0.1:8080
demo:
	@scripts/demo.sh

## bench: side-by-side benchmarks (under 20 minutes); report in target/bench/report.md
bench:
	@scripts/bench.sh

## test-bench: `make bench`'s quick mode: every step with one short round, no figure asserted,
## failing when a bench step breaks (reuses pkg/, test-js's builds, the debug server and target/;
## report in target/bench-quick/). Meant as the last prerequisite of `test`, once a warm run of it
## has been seen to pass there.
test-bench: pkg
	@echo "== make bench, quick mode (every step once, figures not asserted)"
	BENCH_QUICK=1 scripts/bench.sh

clean:
	cargo clean
	rm -rf pkg

## test-size: the npm package's size budget (gzip wasm + glue; builds run by test-js)
test-size:
	scripts/size-budget.sh

## leptos-app: build the Leptos example (examples/leptos-app) once into target/examples/leptos/,
## served by `make demo` and by test-leptos (cold about 4 minutes, warm seconds)
leptos-app: setup
	@scripts/build-leptos-app.sh

test-leptos: leptos-app
	@echo "== the Leptos example app: clippy (wasm32; cold about 2 minutes), then Playwright in headless Chromium, page and worker custody (screenshots in target/e2e/leptos-*; about 90 s)"
	cargo clippy --target wasm32-unknown-unknown -p tokenwarden-leptos-app -- -D warnings
	@# Worker custody serves the npm package's web/ files: pkg/ from test-js (built here only if missing).
	@[ -f pkg/web/worker.js ] || scripts/build-pkg.sh pkg
	cargo build -p tokenwarden-server
	TW_SERVER_BIN=target/debug/tokenwarden-server node --test --test-concurrency=1 tests/leptos/

# The README's "Testing your app" command, exactly: the test kit's example test.
test-kit: setup
	@echo "== the test kit's README example with wasm-pack test --headless --chrome (about 1 minute cold, 10 s warm)"
	cargo clippy $(WASM) --features testing,gloo,serde-wasm-bindgen --lib --tests -- -D warnings
	wasm-pack test --headless --chrome -p tokenwarden --features testing --test testing_kit
	@echo "== TokenManager::send (gloo-net) and claims::<T>() through serde-wasm-bindgen, with the kit"
	wasm-pack test --headless --chrome -p tokenwarden --features testing,gloo,serde-wasm-bindgen --test rust_apis

# Worker custody (custody: "worker") in headless Chromium: the page-memory/channel/heap scan, abort,
# a terminated worker, the option's errors. Reuses pkg/ from test-js (built here only if missing).
test-custody:
	@echo "== worker custody in headless Chromium: no token in the page, abort, a lost worker (about 30 s)"
	@[ -f pkg/web/worker.js ] || scripts/build-pkg.sh pkg
	cargo build -p tokenwarden-server
	TW_SERVER_BIN=target/debug/tokenwarden-server node --test --test-concurrency=1 tests/custody/
