// Collects criterion's results (CRITERION_DIR/**/new/{benchmark,sample,estimates}.json) into one
// file: per benchmark, time per iteration over criterion's samples (median, min, max) and
// criterion's own median estimate with its 95% confidence interval.
// Usage: node criterion.mjs CRITERION_DIR OUT.json
import fs from 'node:fs';
import path from 'node:path';

const [dir, outFile] = process.argv.slice(2);
const found = [];
const walk = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) {
      if (e.name === 'new' && fs.existsSync(path.join(p, 'sample.json'))) found.push(p);
      else walk(p);
    }
  }
};
walk(dir);

const stat = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, min: s[0], max: s[s.length - 1], n: s.length };
};
const read = (d, f) => JSON.parse(fs.readFileSync(path.join(d, f), 'utf8'));
const out = {};
for (const d of found) {
  const { full_id: id } = read(d, 'benchmark.json');
  const { iters, times } = read(d, 'sample.json');
  const est = read(d, 'estimates.json').median;
  out[id] = {
    nsPerIter: stat(times.map((t, i) => t / iters[i])),
    criterionMedianNs: { point: est.point_estimate, lower: est.confidence_interval.lower_bound, upper: est.confidence_interval.upper_bound },
  };
}
fs.writeFileSync(outFile, JSON.stringify(out, null, 1));
console.log(`  native: ${Object.keys(out).length} criterion benchmarks collected`);
