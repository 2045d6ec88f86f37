#!/usr/bin/env bash
# A fresh Node 20 project installs ./pkg and imports it with no init call.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
( cd "$dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "$OLDPWD/pkg" >/dev/null )
cat > "$dir/check.mjs" <<'JS'
import { verifyJwt, decodeJwt, KeySet } from 'tokenwarden';
const header = Buffer.from('{"alg":"ES256"}').toString('base64url');
const payload = Buffer.from('{"sub":"u1","exp":4102444800}').toString('base64url');
const decoded = decodeJwt(`${header}.${payload}.c2ln`);
if (decoded.claims.sub !== 'u1') throw new Error('decodeJwt did not decode');
if (typeof verifyJwt !== 'function' || typeof KeySet !== 'function') throw new Error('missing exports');
try { await verifyJwt(`${header}.${payload}.c2ln`, { keys: [] }); throw new Error('accepted'); }
catch (e) { if (e.code !== 'ERR_JWKS_NO_MATCHING_KEY') throw e; }
console.log('node consumer: import from "tokenwarden" works without an init call');
JS
( cd "$dir" && node check.mjs )
