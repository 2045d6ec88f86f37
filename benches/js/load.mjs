// The reference server under load: GET /api/me with a valid bearer token, 50 connections from
// wrk on loopback, `runs` runs of `secs` seconds each (bounded in time; wrk stops by itself).
// Usage: node load.mjs BASE_URL OUT.json
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';

const [base, outFile] = process.argv.slice(2);
if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$/.test(base)) throw new Error(`not a loopback URL: ${base}`);
const runs = Number(process.env.BENCH_LOAD_RUNS ?? 3);
const secs = Number(process.env.BENCH_LOAD_SECS ?? 5);
const connections = 50;

const login = await fetch(`${base}/auth/login`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'demo', password: 'demo-password' }),
}).then((r) => r.json());
const token = login.access_token;
const check = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } });
if (check.status !== 200) throw new Error(`GET /api/me answered ${check.status}`);

const toMs = (v) => {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (!m) throw new Error(`cannot parse latency ${v}`);
  return Number(m[1]) * { us: 1e-3, ms: 1, s: 1e3, m: 6e4 }[m[2]];
};

const version = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
const samples = [];
for (let i = 0; i < runs; i++) {
  // One wrk thread: the 2 cores are shared with the server; a second thread gained nothing.
  const r = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${secs}s`, '--latency', '--timeout', '5s',
    '-H', `Authorization: Bearer ${token}`, `${base}/api/me`], { encoding: 'utf8', timeout: (secs + 30) * 1000 });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.error}`);
  const out = r.stdout;
  const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : 0; };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const s = {
    requests: num(/(\d+) requests in/),
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: toMs(/^\s*50%\s+(\S+)/m.exec(out)[1]),
    p99Ms: toMs(/^\s*99%\s+(\S+)/m.exec(out)[1]),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
  s.errors = s.non2xx + s.socketErrors;
  samples.push(s);
  console.log(`  load: run ${i + 1}/${runs}: ${s.requestsPerSec.toFixed(0)} req/s, p99 ${s.p99Ms.toFixed(2)} ms, errors ${s.errors}`);
}
const stat = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, min: s[0], max: s[s.length - 1], n: s.length };
};
fs.writeFileSync(outFile, JSON.stringify({
  tool: (version.stdout || version.stderr).split('\n')[0].trim(),
  url: `${base}/api/me`, connections, threads: 1, runs, secs,
  requestsPerSec: stat(samples.map((s) => s.requestsPerSec)),
  p50Ms: stat(samples.map((s) => s.p50Ms)),
  p99Ms: stat(samples.map((s) => s.p99Ms)),
  requests: samples.reduce((a, s) => a + s.requests, 0),
  errors: samples.reduce((a, s) => a + s.errors, 0),
  samples,
}, null, 1));
