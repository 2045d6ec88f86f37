// Verification and decoding in Node: tokenwarden (the npm package's Node build) against jose and
// jwt-decode. Usage: node node_bench.mjs PKG_DIR TOKENS.json OUT.json
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as jose from 'jose';
import { jwtDecode } from 'jwt-decode';
import { checkAgreement, verifySuite, decodeSuite } from './cases.mjs';

const [pkgDir, tokensFile, outFile] = process.argv.slice(2);
const tw = await import(pathToFileURL(path.resolve(pkgDir, 'node/index.js')).href);
const data = JSON.parse(fs.readFileSync(tokensFile, 'utf8'));
const opts = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 21),
  batchMs: Number(process.env.BENCH_BATCH_MS ?? 50),
  log: (s) => console.log(`  node: ${s}`),
};

await checkAgreement(tw, jose, data);
const verify = await verifySuite(tw, jose, data, opts);
const decode = await decodeSuite(tw, jose, jwtDecode, data, opts);
fs.writeFileSync(outFile, JSON.stringify({
  runtime: `Node ${process.version}`, rounds: opts.rounds, batchMs: opts.batchMs, verify, decode,
}, null, 1));
