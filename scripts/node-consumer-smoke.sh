#!/usr/bin/env bash
# A fresh Node 20 project installs ./pkg and imports each of its three entries with no init call:
# tokenwarden (TokenManager, decodeJwt; no verification), tokenwarden/oauth (TokenManager with
# the OAuth profile and DPoP) and tokenwarden/verify (verifyJwt, KeySet, decodeJwt, verifyDpopProof).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
( cd "$dir" && npm init -y >/dev/null && npm pkg set type=module >/dev/null \
  && npm install --no-audit --no-fund --loglevel=error "$OLDPWD/pkg" >/dev/null )
cat > "$dir/check.mjs" <<'JS'
import * as base from 'tokenwarden';
import * as oauth from 'tokenwarden/oauth';
import { verifyJwt, decodeJwt, KeySet, verifyDpopProof } from 'tokenwarden/verify';
import * as verify from 'tokenwarden/verify';
const names = (m) => Object.keys(m).sort().join(',');
const expect = (entry, got, want) => {
  if (got !== want) throw new Error(`${entry} exports ${got}, expected ${want}`);
};
expect('tokenwarden', names(base), 'TokenManager,decodeJwt');
expect('tokenwarden/oauth', names(oauth), 'TokenManager,decodeJwt');
expect('tokenwarden/verify', names(verify), 'KeySet,decodeJwt,verifyDpopProof,verifyJwt');
const header = Buffer.from('{"alg":"ES256"}').toString('base64url');
const payload = Buffer.from('{"sub":"u1","exp":4102444800}').toString('base64url');
for (const [entry, m] of [['tokenwarden', base], ['tokenwarden/oauth', oauth], ['tokenwarden/verify', verify]]) {
  if (m.decodeJwt(`${header}.${payload}.c2ln`).claims.sub !== 'u1') throw new Error(`${entry}: decodeJwt did not decode`);
}
if (typeof verifyJwt !== 'function' || typeof KeySet !== 'function' || typeof verifyDpopProof !== 'function') throw new Error('missing exports');
try { await verifyJwt(`${header}.${payload}.c2ln`, { keys: [] }); throw new Error('accepted'); }
catch (e) { if (e.code !== 'ERR_JWKS_NO_MATCHING_KEY') throw e; }
new oauth.TokenManager({ oauth: { issuer: 'https://op.example', clientId: 'c', redirectUri: 'https://app.example/cb' } }).free();
try { new base.TokenManager({ oauth: { issuer: 'https://op.example', clientId: 'c', redirectUri: 'https://app.example/cb' } }); throw new Error('accepted'); }
catch (e) { if (e.code !== 'ERR_INVALID_OPTIONS') throw e; }
console.log('node consumer: tokenwarden, tokenwarden/oauth and tokenwarden/verify import without an init call');
JS
( cd "$dir" && node check.mjs )
