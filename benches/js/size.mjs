// Sizes, one table: the page load of each entry of ours (its wasm, gzip -9, + the JS the entry
// loads statically, as one gzip -9 stream like scripts/size-budget.sh) beside the peers' minimal pages (peers/usage/*.mjs,
// each bundled with esbuild --bundle --minify --format=esm --platform=browser, gzip -9), all
// measured in this run.
// Usage (cwd: the peers directory, with node_modules installed):
//   node js/size.mjs OUT.json USAGE_DIR 'NAME|LABEL|ENTRY_JS' ...
// ENTRY_JS is the browser entry a page imports (e.g. pkg/web/index.js); what it loads is found by
// following its static relative imports (`import`/`export ... from './x.js'`, not `import()`,
// which loads on use) and the wasm each file names with `new URL('x.wasm', import.meta.url)`.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const [outFile, usageDir, ...entries] = process.argv.slice(2);
// gzip -9 as scripts/size-budget*.sh count (the gzip program, not zlib: their bytes differ).
const gz = (file) => Number(execFileSync('sh', ['-c', 'gzip -9c "$1" | wc -c', 'sh', file]).toString().trim());
const gzCat = (files) => Number(execFileSync('sh', ['-c', 'cat "$@" | gzip -9c | wc -c', 'sh', ...files]).toString().trim());
const pkgVersion = (name) => JSON.parse(fs.readFileSync(path.resolve('node_modules', name, 'package.json'), 'utf8')).version;
const esbuild = path.resolve('node_modules/.bin/esbuild');
const work = path.resolve('size-work');
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work);

const STATIC_IMPORT = /(?:import|export)\s*(?:[\w*$\s{},]*?\bfrom\s*)?["'](\.{1,2}\/[^"']+)["']/g;
const WASM_URL = /new URL\(\s*["']([^"']+\.wasm)["']\s*,\s*import\.meta\.url\s*\)/g;

/** The files a page loads when it imports `entry`: JS by static imports, wasm by URL. */
export function pageLoad(entry) {
  const js = [];
  const wasm = new Set();
  const todo = [path.resolve(entry)];
  while (todo.length) {
    const file = todo.pop();
    if (js.includes(file)) continue;
    if (!fs.existsSync(file)) throw new Error(`${entry} loads ${file}, which does not exist`);
    js.push(file);
    const src = fs.readFileSync(file, 'utf8');
    // Dynamic imports (`import("./remote.js")`) load on use: not part of the page load.
    const noDynamic = src.replace(/\bimport\s*\(\s*["'][^"']*["']\s*\)/g, '');
    for (const m of noDynamic.matchAll(STATIC_IMPORT)) todo.push(path.resolve(path.dirname(file), m[1]));
    for (const m of src.matchAll(WASM_URL)) wasm.add(path.resolve(path.dirname(file), m[1]));
  }
  if (wasm.size === 0) throw new Error(`${entry}: no wasm module found (no new URL('….wasm', import.meta.url))`);
  for (const w of wasm) if (!fs.existsSync(w)) throw new Error(`${entry} loads ${w}, which does not exist`);
  return { js, wasm: [...wasm] };
}

const result = { esbuild: pkgVersion('esbuild'), tokenwarden: {}, peers: {}, table: [] };
for (const spec of entries) {
  const [name, label, entry] = spec.split('|');
  const files = pageLoad(entry);
  const r = {
    label,
    entry,
    files: [...files.js, ...files.wasm].map((f) => path.relative(path.dirname(path.resolve(entry)), f)),
    wasmBytes: files.wasm.reduce((n, f) => n + fs.statSync(f).size, 0),
    wasmGzip: files.wasm.reduce((n, f) => n + gz(f), 0),
    // The JS files as one gzip -9 stream, as scripts/size-budget.sh counts them (`cat
    // tokenwarden.js index.js | gzip -9`), so that the table and the gates agree.
    jsGzip: gzCat([...files.js].reverse()), // what an entry imports first, as the gate orders them
  };
  r.totalGzip = r.wasmGzip + r.jsGzip;
  result.tokenwarden[name] = r;
  result.table.push({ name: label, ours: true, gzip: r.totalGzip, detail: `wasm ${r.wasmGzip} + JS ${r.jsGzip} (${r.files.join(', ')})` });
}

// The peers: one minimal page each; the first comment line names the row. The package is the
// first bare import of the file.
for (const file of fs.readdirSync(usageDir).filter((f) => f.endsWith('.mjs')).sort()) {
  const src = fs.readFileSync(path.join(usageDir, file), 'utf8');
  const label = src.split('\n')[0].replace(/^\/\/\s*/, '');
  const spec = src.match(/from\s*'([^'.][^']*)'/)[1];
  const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
  // Bundled where it is (a page may import a shared part of its directory); output in size-work/.
  const entry = path.join(usageDir, file);
  const out = path.join(work, file.replace(/\.mjs$/, '.min.js'));
  execFileSync(esbuild, [entry, '--bundle', '--minify', '--format=esm', '--platform=browser',
    `--outfile=${out}`, '--log-level=error']);
  const r = { label, package: pkg, version: pkgVersion(pkg), usage: `benches/peers/usage/${file}`, minified: fs.statSync(out).size, gzip: gz(out) };
  result.peers[file.replace(/\.mjs$/, '')] = r;
  result.table.push({ name: `${pkg} ${r.version}${label.slice(pkg.length)}`, ours: false, gzip: r.gzip });
}

// The peers by size, then ours.
result.table.sort((x, y) => (x.ours - y.ours) || (x.ours ? 0 : x.gzip - y.gzip));
const rows = result.table.map((t) => `| ${t.ours ? `**${t.name}**` : t.name} | ${t.ours ? `**${t.gzip.toLocaleString('en-US')}**` : t.gzip.toLocaleString('en-US')} |`);
result.markdown = ['| library | gzip B |', '|---|---:|', ...rows].join('\n');
console.log(`  size: page load, gzip -9 (ours: wasm + JS the entry loads; peers: esbuild ${result.esbuild} --bundle --minify, usage in benches/peers/usage/)`);
console.log(result.markdown.split('\n').map((l) => `  ${l}`).join('\n'));
fs.writeFileSync(outFile, JSON.stringify(result, null, 1));
