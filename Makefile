# tokenwarden — the two commands: `make demo` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export CHROMEDRIVER ?= /usr/bin/chromedriver
WASM := --target wasm32-unknown-unknown -p tokenwarden
# The reference server and the OAuth example CLI the browser suites run, built once: by test-host's
# own `cargo test` (which builds every binary and example of the workspace with these features and
# puts them in target/debug/). The same command with --no-run is a no-op after it; a separate
# `cargo build -p tokenwarden-server` resolved other features and compiled the server a second time
# (2 minutes of a cold run).
BUILD_BINS := cargo test --workspace --features tokenwarden/hmac --no-run
SERVER_BIN := target/debug/tokenwarden-server

.PHONY: setup pkg test test-scenarios example-apps-bg test-custody test-lint test-host test-server-stores test-wasm-node test-wasm-browser test-manager test-js test-e2e test-oauth test-size test-dpop example-apps test-apps test-kit test-react test-bench demo bench clean

## setup: install the toolchain pieces (idempotent; 8-12 minutes cold, seconds warm)
setup:
	@scripts/setup.sh

## pkg: build the npm package into pkg/ (about 1-2 minutes cold)
pkg: setup
	@scripts/build-pkg.sh pkg

## test: lint, host tests, wasm tests in Node and headless Chromium, JS tests
test: setup example-apps-bg test-lint test-host test-wasm-node test-wasm-browser test-manager test-js test-custody test-e2e test-oauth test-size test-dpop test-apps test-scenarios test-kit test-react test-bench
	@echo "make test: all suites passed"

test-lint:
	@echo "== lint: rustfmt, clippy (host and wasm32), core purity (about 2 minutes cold)"
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p tokenwarden --all-targets --features hmac -- -D warnings
	cargo clippy $(WASM) --lib --tests --examples -- -D warnings
	@# The npm package's entries (no_std; scripts/build-pkg.sh): tokenwarden, tokenwarden/verify,
	@# tokenwarden/oauth, then verification's share build.
	cargo clippy $(WASM) --no-default-features --features engine -- -D warnings
	cargo clippy $(WASM) --no-default-features --features es256,eddsa,rsa,hmac,dpop-verify,jwt-api -- -D warnings
	cargo clippy $(WASM) --no-default-features --features engine,es256,eddsa,rsa,oauth,dpop -- -D warnings
	cargo clippy $(WASM) --no-default-features --features engine,es256,eddsa,rsa,hmac,jwt-api -- -D warnings
	cargo clippy $(WASM) --features portable,hmac --lib --tests -- -D warnings
	cargo clippy $(WASM) --features hmac-sync --lib --tests -- -D warnings
	cargo clippy $(WASM) --features worker-custody --lib -- -D warnings
	@# The test kit (feature testing) is linted by test-kit, with gloo and serde-wasm-bindgen.
	scripts/check-core-purity.sh
	@echo "== feature subsets build: no verification, ES256 only, EdDSA only"
	cargo clippy -p tokenwarden --no-default-features -- -D warnings
	cargo clippy -p tokenwarden --no-default-features --features es256 -- -D warnings
	cargo clippy -p tokenwarden --no-default-features --features eddsa -- -D warnings
	cargo clippy -p tokenwarden --no-default-features --features rsa -- -D warnings
	cargo clippy -p tokenwarden --no-default-features --features dpop -- -D warnings
	cargo clippy -p tokenwarden --no-default-features --features es256,dpop-verify -- -D warnings

test-host:
	@echo "== host tests (library with and without hmac, server; about 3 minutes cold)"
	@# The workspace run unifies the server's `ring` feature into the library: its suites
	@# (Wycheproof and the rejection suites included, HMAC too) verify with ring's primitive there,
	@# and with the pure-Rust primitive (jwt-compact) in the -p run below.
	cargo test --workspace --features tokenwarden/hmac
	@# (BUILD_BINS above is this command's build, reused by the browser suites.)
	@echo "== the library's suites on the pure-Rust primitive (jwt-compact), HMAC included"
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
	@# The pure-Rust primitive (feature portable) runs in Node only: the same wasm on the same
	@# engine (V8), where WebCrypto's results depend on the browser.
	WASM_BINDGEN_USE_BROWSER=1 wasm-pack test --headless --chrome -p tokenwarden --features hmac $(WASM_SUITES)

test-manager:
	@echo "== TokenManager in headless Chromium against the reference server (about 1 minute)"
	$(BUILD_BINS)
	TW_SERVER_BIN=$(SERVER_BIN) scripts/test-browser.sh

test-js: pkg
	@echo "== JS tests: the npm package's three entries in Node 20 and Chromium, interop with jose, types, Vite apps"
	ln -sfn ../pkg node_modules/tokenwarden
	$(BUILD_BINS)
	scripts/node-consumer-smoke.sh
	@echo "== the cost of verification in the npm package (its own -Os build without the OAuth profile, against the tokenwarden entry)"
	@# Budget 13,800 B (scripts/size-budget-verify.sh's default), verification without the OAuth profile.
	scripts/build-pkg.sh target/pkg-verify --no-default-features --features engine,es256,eddsa,rsa,hmac,jwt-api
	scripts/size-budget-verify.sh target/pkg-verify pkg
	scripts/test-types.sh
	TW_SERVER_BIN=$(SERVER_BIN) scripts/test-vite.sh
	@# Each suite on the entry it is about: manager and tabs on tokenwarden (pkg/), DPoP on
	@# tokenwarden/oauth (pkg/oauth), verification on tokenwarden/verify (pkg/verify).
	node --test --test-concurrency=1 tests/js/
	@echo "== the manager suite on the tokenwarden/oauth entry's TokenManager (the same driver with OAuth and DPoP linked)"
	TW_PKG_DIR=pkg/oauth node --test --test-concurrency=1 tests/js/manager_pkg.test.mjs

test-e2e: pkg
	@echo "== end-to-end: the demo page in headless Chromium (screenshots in target/e2e/)"
	$(BUILD_BINS)
	TW_SERVER_BIN=$(SERVER_BIN) scripts/test-e2e.sh

test-oauth: pkg
	@echo "== OAuth against oidc-provider: the core (Node) and the npm package in Chromium, page and worker custody, with and without DPoP (Playwright; about 55 s warm)"
	$(BUILD_BINS)
	node --test --test-concurrency=1 tests/oauth/

test-dpop:
	@echo "== DPoP in headless Chromium against a --dpop --dpop-nonce reference server (about 1 minute)"
	$(BUILD_BINS)
	TW_SERVER_BIN=$(SERVER_BIN) scripts/test-dpop-browser.sh

# tokenwarden/react: the hooks' unit tests (React's test renderer in Node), then the React example
# (examples/react-app) built with `vite build` into target/react-app/dist (and a development build,
# dist-dev, for StrictMode's double effects) and driven in headless Chromium, both profiles
# (reference dialect in page and worker custody, OAuth against oidc-provider). Reuses pkg/ and the
# server binary (about 80 s warm).
test-react: pkg
	@echo "== tokenwarden/react: hooks in Node, then the Vite React example in headless Chromium, both profiles, both custodies (about 90 s warm)"
	node --test --test-concurrency=1 tests/react/hooks.test.mjs
	ln -sfn ../pkg node_modules/tokenwarden
	vite build examples/react-app --outDir ../../target/react-app/dist --emptyOutDir --logLevel warn
	@# A development build too: StrictMode runs effects twice in development only.
	NODE_ENV=development vite build examples/react-app --mode development --outDir ../../target/react-app/dist-dev --emptyOutDir --logLevel warn
	$(BUILD_BINS)
	TW_SERVER_BIN=$(SERVER_BIN) TW_REACT_DIST=target/react-app/dist TW_REACT_DEV_DIST=target/react-app/dist-dev node --test --test-concurrency=1 tests/react/app.test.mjs

## demo: build the package and serve the demo on http://127.0.0.1:8080
demo:
	@scripts/demo.sh

## bench: side-by-side benchmarks (under 20 minutes); report in target/bench/report.md
bench:
	@scripts/bench.sh

## test-bench: `make bench`'s quick mode: every step with one short round, no figure asserted,
## failing when a bench step breaks (report in target/bench-quick/). It compiles only the two bench
## targets: the package is pkg/, the server and the load generator are BUILD_BINS's.
test-bench: pkg
	@echo "== make bench, quick mode (every step once, figures not asserted; about 3 minutes)"
	BENCH_QUICK=1 BUILD_BINS='$(BUILD_BINS)' scripts/bench.sh

clean:
	cargo clean
	rm -rf pkg

## test-size: each entry's size budget (gzip wasm + glue + entry JS) and what each entry may link
## (pkg/ and target/pkg-raw/ from test-js)
test-size:
	scripts/size-budget.sh

## example-apps: build and lint the example apps on the Rust API (examples/leptos-app,
## examples/yew-app) once into target/examples/<leptos|yew>/, served by `make demo` and by
## test-apps (one cargo invocation in their own target directory, target/example-apps; cold about
## 11 minutes on 2 cores, warm seconds). Within `make test` it was started in the background by
## example-apps-bg, and this waits for it.
example-apps: setup
	@scripts/bg.sh finish example-apps scripts/build-example-apps.sh --clippy

## example-apps-bg: start that build at nice 19 in the background (scripts/bg.sh), where it uses
## the cores the other suites leave idle; stopped if make exits first.
example-apps-bg: setup
	@scripts/bg.sh start example-apps scripts/build-example-apps.sh --clippy

test-apps: example-apps
	@echo "== the Leptos and Yew example apps (built and linted by example-apps): Playwright in headless Chromium, page and worker custody (screenshots in target/e2e/{leptos,yew}-*; about 3 minutes)"
	@# Worker custody serves the npm package's web/ files: pkg/ from test-js (built here only if missing).
	@[ -f pkg/web/worker.js ] || scripts/build-pkg.sh pkg
	$(BUILD_BINS)
	TW_SERVER_BIN=$(SERVER_BIN) node --test --test-concurrency=1 tests/apps/

## test-scenarios: one scenario suite, both shells: each file of tests/scenarios/cases/ (steps, what
## the server answers, the requests it must see, the events and states) run in headless Chromium on
## the npm TokenManager (pkg/, the JS driver) and on the Rust shell (tokenwarden::web behind the same
## surface, tests/scenarios/shell, built by example-apps); both must match the file and each other;
## then a package with a planted divergence must fail it (scripts/test-scenarios.sh; about 3 minutes).
test-scenarios: example-apps
	@echo "== scenarios: the same steps on the JS driver and the Rust shell, one request log, then a planted divergence that must fail (headless Chromium; about 3 minutes)"
	@[ -f pkg/web/index.js ] || scripts/build-pkg.sh pkg
	scripts/test-scenarios.sh

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
	$(BUILD_BINS)
	TW_SERVER_BIN=$(SERVER_BIN) node --test --test-concurrency=1 tests/custody/
