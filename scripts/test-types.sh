#!/usr/bin/env bash
# Type-checks tests/types/ against the package's declarations, resolved as an app resolves them:
# `import ... from 'tokenwarden'`, 'tokenwarden/oauth', 'tokenwarden/verify' through
# node_modules/tokenwarden (a link to pkg/) and pkg/package.json's `exports` (`types`
# conditions), with `tsc --strict`, under `moduleResolution: bundler` and `node16`:
#   consumer.ts  every exported type of tokenwarden/oauth and tokenwarden/verify used, misuse marked
#                with @ts-expect-error;
#   base.ts      the tokenwarden entry declares no verification, no OAuth, no DPoP; the verify
#                entry no TokenManager;
#   react.ts     tokenwarden/react's hooks and components (pkg/react.d.ts).
# Usage: scripts/test-types.sh        (builds pkg/ first if it is missing; a few seconds warm)
# Needs: `npm install` at the repository root (typescript is a devDependency).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
[ -f pkg/verify/index.d.ts ] || scripts/build-pkg.sh pkg
ln -sfn ../pkg node_modules/tokenwarden
tsc --version
for resolution in bundler node16; do
  config=tsconfig.json
  [ "$resolution" = bundler ] || config=tsconfig.$resolution.json
  tsc --noEmit --strict -p "tests/types/$config"
  echo "test-types: tests/types/{consumer,base,react}.ts type-check against pkg/'s three entries (moduleResolution $resolution)"
done
