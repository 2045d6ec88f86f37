// Prints the time ratios (ours / jose; below 1 ours is faster) of node.json and chromium.json:
// median (min-max) of the per-round ratios. Usage: node ratios.mjs RESULT.json...
import fs from 'node:fs';

const time = (s) => `${(1 / s.median).toFixed(2)} (${(1 / s.max).toFixed(2)}-${(1 / s.min).toFixed(2)})`;
for (const file of process.argv.slice(2)) {
  if (!fs.existsSync(file)) continue;
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  const row = Object.entries(r.verify).flatMap(([alg, v]) => Object.entries(v.ratios)
    .map(([pair, s]) => `${alg}${pair.includes('sync') ? ' hmac-sync' : ''} ${time(s)}`));
  row.push(`decodeJwt vs jose decodeJwt ${time(r.decode.ratios['tokenwarden / jose'])}`);
  row.push(`decodeJwt vs jose decodeJwt + decodeProtectedHeader ${time(r.decode.ratios['tokenwarden / jose header + payload'])}`);
  console.log(`${r.runtime ?? file}, ${r.rounds} rounds: time ours / jose, median (range): ${row.join(', ')}`);
}
