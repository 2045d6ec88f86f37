#!/usr/bin/env bash
# Type-checks tests/types/consumer.ts (every exported type used, misuse marked with
# @ts-expect-error) against the package's declarations, pkg/index.d.ts, and tests/types/react.ts
# against tokenwarden/react's, pkg/react.d.ts, with `tsc --strict`.
# Usage: scripts/test-types.sh        (builds pkg/ first if it is missing; a few seconds warm)
# Needs: `npm install` at the repository root (typescript is a devDependency).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
[ -f pkg/index.d.ts ] || scripts/build-pkg.sh pkg
# pkg/index.d.ts is a copy of src/js/tokenwarden.d.ts: check the one the package ships.
cmp -s pkg/index.d.ts src/js/tokenwarden.d.ts \
  || echo "test-types: note: pkg/index.d.ts differs from src/js/tokenwarden.d.ts (rebuild pkg/ with make pkg)" >&2
tsc --version
tsc --noEmit --strict -p tests/types
echo "test-types: tests/types/consumer.ts and react.ts type-check against pkg/index.d.ts and pkg/react.d.ts (strict, with negative checks)"
