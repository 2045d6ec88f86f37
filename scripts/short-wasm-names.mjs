// Gives the names the wasm-bindgen glue and the wasm module share short names, in both files:
// the imports of "./tokenwarden_bg.js" (wasm-bindgen names them `__wbg_<name>_<16 hex digits>`,
// digits gzip cannot shrink) and every export but `memory` (which init() hands back and tests
// read). Nothing else reads those names: the package's JS calls the glue's classes and functions,
// whose names do not change. The declarations of those exports follow.
//   node scripts/short-wasm-names.mjs DIR/tokenwarden_bg.wasm DIR/tokenwarden.js
// Run on wasm-bindgen's unminified glue (it finds `wasm.<export>` and `<import>:` there) and
// fails when a name is not found exactly where expected, so a new glue layout cannot slip by.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const [wasmPath, gluePath] = process.argv.slice(2);
const bytes = readFileSync(wasmPath);
let glue = readFileSync(gluePath, 'utf8');
const MODULE = './tokenwarden_bg.js';

const uleb = (buf, pos) => {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, pos];
  }
};
const encodeUleb = (value) => {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return Buffer.from(out);
};
const encodeName = (name) => {
  const utf8 = Buffer.from(name, 'utf8');
  return Buffer.concat([encodeUleb(utf8.length), utf8]);
};
const readName = (buf, pos) => {
  const [len, start] = uleb(buf, pos);
  return [buf.toString('utf8', start, start + len), start + len];
};
/** The end of an import's description (func, table, memory, global, tag). */
const skipLimits = (buf, pos) => {
  const flags = buf[pos++];
  [, pos] = uleb(buf, pos);
  if (flags & 1) [, pos] = uleb(buf, pos);
  return pos;
};
const skipImportDesc = (buf, pos) => {
  const kind = buf[pos++];
  switch (kind) {
    case 0: return uleb(buf, pos)[1];
    case 1: return skipLimits(buf, pos + 1);
    case 2: return skipLimits(buf, pos);
    case 3: return pos + 2;
    case 4: return uleb(buf, pos + 1)[1];
    default: throw new Error(`short-wasm-names: unknown import kind ${kind}`);
  }
};

// Short identifiers: a..Z, then two letters.
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
let next = 0;
const shortName = () => {
  const n = next++;
  return n < LETTERS.length ? LETTERS[n] : LETTERS[Math.floor(n / LETTERS.length) - 1] + LETTERS[n % LETTERS.length];
};

const imports = new Map();
const exports = new Map();
const sections = [];
let pos = 8;
while (pos < bytes.length) {
  const id = bytes[pos];
  const [size, start] = uleb(bytes, pos + 1);
  const end = start + size;
  if (id === 2 || id === 7) {
    const parts = [];
    let [count, p] = uleb(bytes, start);
    parts.push(encodeUleb(count));
    while (count-- > 0) {
      if (id === 2) {
        let module; let name;
        [module, p] = readName(bytes, p);
        [name, p] = readName(bytes, p);
        const descEnd = skipImportDesc(bytes, p);
        let short = name;
        if (module === MODULE) {
          if (!imports.has(name)) imports.set(name, shortName());
          short = imports.get(name);
        }
        parts.push(encodeName(module), encodeName(short), bytes.subarray(p, descEnd));
        p = descEnd;
      } else {
        let name;
        [name, p] = readName(bytes, p);
        const kind = bytes[p];
        const [, indexEnd] = uleb(bytes, p + 1);
        let short = name;
        if (name !== 'memory') {
          short = shortName();
          exports.set(name, short);
        }
        parts.push(encodeName(short), bytes.subarray(p, indexEnd));
        p = indexEnd;
      }
    }
    if (p !== end) throw new Error(`short-wasm-names: section ${id} not read to its end`);
    const body = Buffer.concat(parts);
    sections.push(Buffer.from([id]), encodeUleb(body.length), body);
  } else {
    sections.push(bytes.subarray(pos, end));
  }
  pos = end;
}

const escape = (s) => s.replace(/[$]/g, '\\$');
for (const [name, short] of imports) {
  // A key of the imports object: `    __wbg_parse_c3f72b5a24f83c01: function(`.
  const pattern = new RegExp(`^(\\s+)${escape(name)}:`, 'gm');
  const found = glue.match(pattern)?.length ?? 0;
  if (found !== 1) throw new Error(`short-wasm-names: import ${name} found ${found} times in ${gluePath}`);
  glue = glue.replace(pattern, `$1${short}:`);
}
for (const [name, short] of exports) {
  glue = glue.replace(new RegExp(`\\bwasm\\.${escape(name)}\\b`, 'g'), `wasm.${short}`);
}
// Every name the glue still spells out in full would now be missing from the module.
for (const name of [...imports.keys(), ...exports.keys()]) {
  if (new RegExp(`\\b${escape(name)}\\b`).test(glue.replace(/^\s*(\/\/|\*|\/\*).*$/gm, ''))
    && /^(__wbg|__wbindgen|__externref)/.test(name)) {
    throw new Error(`short-wasm-names: ${name} is still named in ${gluePath}`);
  }
}
writeFileSync(wasmPath, Buffer.concat([bytes.subarray(0, 8), ...sections]));
writeFileSync(gluePath, glue);
// The declarations wasm-bindgen writes of the exports (InitOutput, tokenwarden_bg.wasm.d.ts).
for (const path of [gluePath.replace(/\.js$/, '.d.ts'), wasmPath.replace(/\.wasm$/, '.wasm.d.ts')]) {
  if (!existsSync(path)) continue;
  let text = readFileSync(path, 'utf8');
  for (const [name, short] of exports) {
    text = text.replace(new RegExp(`^(\\s*readonly |export const )${escape(name)}:`, 'gm'), `$1${short}:`);
  }
  writeFileSync(path, text);
}
console.log(`pkg: short names for ${imports.size} imports and ${exports.size} exports (${gluePath})`);
