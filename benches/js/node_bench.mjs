// Verification and decoding in Node: tokenwarden (the npm package's Node build) against jose and
// jwt-decode. Usage: node node_bench.mjs PKG_DIR TOKENS.json OUT.json
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as jose from 'jose';
import { jwtDecode } from 'jwt-decode';
import { checkAgreement, verifySuite, decodeSuite } from './cases.mjs';

const [pkgDir, tokensFile, outFile, syncDir] = process.argv.slice(2);
const load = (dir) => import(pathToFileURL(path.resolve(dir, 'node/index.js')).href);
const tw = await load(pkgDir);
// The build with HS256 computed in wasm (feature hmac-sync), when given.
const twSync = syncDir ? await load(syncDir) : null;
const data = JSON.parse(fs.readFileSync(tokensFile, 'utf8'));
const opts = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 21),
  batchMs: Number(process.env.BENCH_BATCH_MS ?? 50),
  log: (s) => console.log(`  node: ${s}`),
};

await checkAgreement(tw, jose, data);
const verify = await verifySuite(tw, jose, data, opts, twSync);
const decode = await decodeSuite(tw, jose, jwtDecode, data, opts);
fs.writeFileSync(outFile, JSON.stringify({
  runtime: `Node ${process.version}`, rounds: opts.rounds, batchMs: opts.batchMs, verify, decode,
}, null, 1));
