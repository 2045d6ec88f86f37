#!/usr/bin/env bash
# The scenario suite (tests/scenarios/): every scenario of tests/scenarios/cases/ on both shells,
# the npm package's TokenManager (pkg/) and the Rust shell (target/scenario-shell/, built by
# scripts/build-example-apps.sh); about 2 minutes. Then the suite's own check that it catches a
# divergence between the shells (about 1 minute): a package built from a copy of the JS sources
# in which driver.js counts a blank session-hint cookie (`tw_session=`) as a session, the
# divergence remote.js once had, must fail scenario 19 on the JS driver, where the Rust shell
# passes it: if the suite passed that package, it could not tell the shells apart.
# Env: TW_PKG_DIR, TW_SCENARIO_SHELL (tests/scenarios/scenarios.test.mjs), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
node --test --test-concurrency=1 tests/scenarios/

echo "scenarios: a planted divergence must fail the suite (driver.js counting a blank session hint; about 1 minute)"
PLANT="${CARGO_TARGET_DIR:-target}/scenario-planted"
rm -rf "$PLANT"
mkdir -p "$PLANT"
cp -r src/js "$PLANT/js"
sed -i 's/return at >= 0 \&\& p.slice(0, at) === name \&\& p.length > at + 1;/return at >= 0 \&\& p.slice(0, at) === name;/' "$PLANT/js/driver.js"
if cmp -s src/js/driver.js "$PLANT/js/driver.js"; then
  echo "scenarios: the plant no longer applies to src/js/driver.js (its session-hint rule changed): update this script" >&2
  exit 1
fi
TW_JS_DIR="$PLANT/js" scripts/build-pkg.sh "$PLANT/pkg" --no-default-features --features engine > "$PLANT/build.log"
if TW_PKG_DIR="$PLANT/pkg" TW_SHELLS=js TW_SCENARIOS=19-session-hint \
  node --test --test-concurrency=1 tests/scenarios/ > "$PLANT/run.log" 2>&1; then
  echo "scenarios: the suite passed a JS driver that diverges from the Rust shell (see $PLANT/run.log)" >&2
  exit 1
fi
# It failed for the planted reason: the blank hint's start() resolved true after a refresh.
if ! grep -q "each step's outcome" "$PLANT/run.log"; then
  echo "scenarios: the planted package failed, but not on the steps' outcomes (see $PLANT/run.log)" >&2
  exit 1
fi
echo "scenarios: the planted divergence failed scenario 19 on the JS driver, as it must"
