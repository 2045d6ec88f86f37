// Sizes: gzip -9 of tokenwarden's npm builds (wasm + JS glue of the browser build) next to
// esbuild --bundle --minify + gzip -9 of the peers installed in this directory.
// Usage (cwd: the peers directory): node js/size.mjs OUT.json NAME=PKG_DIR...
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const [outFile, ...builds] = process.argv.slice(2);
const gz = (file) => Number(execFileSync('sh', ['-c', 'gzip -9c "$1" | wc -c', 'sh', file]).toString().trim());
const version = (name) => JSON.parse(fs.readFileSync(path.resolve('node_modules', name, 'package.json'), 'utf8')).version;
const esbuild = path.resolve('node_modules/.bin/esbuild');
const work = path.resolve('size-work');
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work);

function bundle(name, source) {
  const entry = path.join(work, `${name.replace(/\W+/g, '_')}.entry.mjs`);
  const out = entry.replace('.entry.mjs', '.min.js');
  fs.writeFileSync(entry, source);
  execFileSync(esbuild, [entry, '--bundle', '--minify', '--format=esm', '--platform=browser',
    `--outfile=${out}`, '--log-level=error'], { cwd: process.cwd() });
  return { minified: fs.statSync(out).size, gzip: gz(out) };
}

const result = { esbuild: version('esbuild'), tokenwarden: {}, peers: {} };

for (const spec of builds) {
  const [name, dir] = spec.split('=');
  const web = path.join(dir, 'web');
  const wasm = path.join(web, 'tokenwarden_bg.wasm');
  const glue = path.join(work, `${name}.glue.js`);
  // Every JS file the page loads: the wasm-bindgen glue and the entry (bundled with the driver,
  // custody, OAuth, DPoP and verify modules), as scripts/size-budget.sh counts them.
  const glueFiles = ['tokenwarden.js', 'index.js'].filter((f) => fs.existsSync(path.join(web, f)));
  fs.writeFileSync(glue, glueFiles.map((f) => fs.readFileSync(path.join(web, f), 'utf8')).join(''));
  // The glue as a bundler would ship it: index.js bundled and minified, the wasm left as an asset.
  // If esbuild cannot link the entry (a broken build), that is reported, not hidden.
  const gmin = path.join(work, `${name}.glue.min.js`);
  let glueMinGzip = null;
  let glueMinError = null;
  try {
    execFileSync(esbuild, [path.join(web, 'index.js'), '--bundle', '--minify', '--format=esm',
      '--platform=browser', '--target=es2022', `--outfile=${gmin}`, '--log-level=error'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    glueMinGzip = gz(gmin);
  } catch (e) {
    glueMinError = String(e.stderr ?? e.message).split('\n').find((l) => l.includes('ERROR'))
      ?.replace(/^\W*\[ERROR\]\s*/, '').trim() ?? 'esbuild failed';
    console.log(`  size: WARNING: ${name}: esbuild cannot bundle web/index.js: ${glueMinError}`);
  }
  const r = {
    wasmBytes: fs.statSync(wasm).size,
    wasmGzip: gz(wasm),
    glueGzip: gz(glue),
    glueMinGzip,
    glueMinError,
  };
  r.totalGzip = r.wasmGzip + r.glueGzip;
  r.totalMinGzip = glueMinGzip === null ? null : r.wasmGzip + glueMinGzip;
  result.tokenwarden[name] = r;
  console.log(`  size: tokenwarden ${name}: wasm ${r.wasmGzip} + glue ${r.glueGzip} = ${r.totalGzip} bytes gzip -9`);
}

const PEERS = [
  ['@auth0/auth0-spa-js', "export * from '@auth0/auth0-spa-js';", 'everything exported'],
  ['oidc-client-ts', "export * from 'oidc-client-ts';", 'everything exported'],
  ['@supabase/auth-js', "export * from '@supabase/auth-js';", 'everything exported'],
  ['@okta/okta-auth-js', "export * from '@okta/okta-auth-js';", 'everything exported'],
  ['jose', "export { jwtVerify, importJWK, createLocalJWKSet } from 'jose';", 'jwtVerify + importJWK + createLocalJWKSet'],
  ['jwt-decode', "export { jwtDecode } from 'jwt-decode';", 'jwtDecode'],
];
for (const [name, source, what] of PEERS) {
  const r = { version: version(name), imports: what, ...bundle(name, source) };
  result.peers[name] = r;
  console.log(`  size: ${name} ${r.version}: ${r.gzip} bytes min+gzip -9`);
}
fs.writeFileSync(outFile, JSON.stringify(result, null, 1));
