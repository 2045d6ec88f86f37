// Interleaved micro-benchmark harness, shared by Node and the browser pages.
//
// Method: each case is calibrated (and warmed up) to an iteration count whose batch takes about
// `batchMs`; then `rounds` rounds run every case once, in an order rotated each round (so no case
// always runs first or last, and drift hits all cases alike). Each batch gives one ops/s sample;
// a figure is the median of its samples, with min and max. A comparison is the per-round ratio of
// two cases' samples (measured back to back in the same round), reported as median, min and max.

const now = () => performance.now();

export let sink = 0; // Results are folded in here so that no work is optimised away.

function fold(value) {
  if (value && typeof value === 'object') {
    sink ^= (value.claims?.sub?.length ?? value.sub?.length ?? value.payload?.sub?.length ?? 1);
  } else if (typeof value === 'string') {
    sink ^= value.length;
  } else {
    sink ^= 1;
  }
}

async function runBatch(c, n) {
  const t0 = now();
  if (c.async) {
    for (let i = 0; i < n; i++) fold(await c.fn());
  } else {
    for (let i = 0; i < n; i++) fold(c.fn());
  }
  return now() - t0;
}

async function calibrate(c, batchMs) {
  let n = 1;
  for (;;) {
    const ms = await runBatch(c, n);
    if (ms >= batchMs / 4 || n >= 1 << 24) {
      return Math.max(1, Math.round((n * batchMs) / Math.max(ms, 0.001)));
    }
    n *= ms < batchMs / 64 ? 8 : 2;
  }
}

export function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const m = s.length >> 1;
  const median = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  return { median, min: s[0], max: s[s.length - 1], n: s.length };
}

/**
 * cases: [{ name, fn, async }]; pairs: [[a, b], ...] compared as ops(a) / ops(b).
 * Options: `iterations` fixes the batch size (no calibration), `warmup: false` skips the
 * discarded warm-up round, `diffs: [[a, b], ...]` adds per-round differences us(a) - us(b),
 * `logDivisor` scales the logged µs (e.g. per request of a batch).
 * Returns { cases: { name: { opsPerSec: stats, usPerOp: stats, iterations } },
 *           ratios: { "a / b": stats }, diffsUs: { "a - b": stats } }.
 */
export async function compare(cases, pairs, {
  rounds = 21, batchMs = 50, iterations: fixed, warmup = true, diffs = [], log = () => {}, logDivisor = 1,
} = {}) {
  const iterations = {};
  for (const c of cases) iterations[c.name] = fixed ?? await calibrate(c, batchMs);
  // One discarded warm-up round with the final counts.
  if (warmup) for (const c of cases) await runBatch(c, iterations[c.name]);
  const ops = Object.fromEntries(cases.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(k + r) % cases.length];
      const ms = await runBatch(c, iterations[c.name]);
      ops[c.name].push((iterations[c.name] * 1000) / ms);
    }
  }
  const out = { cases: {}, ratios: {} };
  for (const c of cases) {
    out.cases[c.name] = {
      opsPerSec: stats(ops[c.name]),
      usPerOp: stats(ops[c.name].map((x) => 1e6 / x)),
      iterations: iterations[c.name],
    };
  }
  for (const [a, b] of pairs) {
    out.ratios[`${a} / ${b}`] = stats(ops[a].map((x, i) => x / ops[b][i]));
  }
  if (diffs.length) out.diffsUs = {};
  for (const [a, b] of diffs) {
    out.diffsUs[`${a} - ${b}`] = stats(ops[a].map((x, i) => 1e6 / x - 1e6 / ops[b][i]));
  }
  log(Object.entries(out.cases)
    .map(([n, v]) => `${n} ${(v.usPerOp.median / logDivisor).toFixed(2)} us`).join(', '));
  return out;
}
