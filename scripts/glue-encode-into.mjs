// Passes JS strings into the wasm module with one native `TextEncoder#encodeInto` instead of the
// wasm-bindgen glue's character loop (`charCodeAt` per character until the first non-ASCII
// one, then `encodeInto` for the rest): the same bytes, the same buffer protocol (`malloc` of
// the string's length, `realloc` to three bytes per remaining unit only when a non-ASCII one is
// met, then to the length written). Every string the package hands to wasm goes this way: a
// token to `decodeJwt`/`verifyJwt`, a login's answer to the manager. Measured in Node 22 on a
// 749-character token: `decodeJwt` 7.9 -> 6.2 us.
//   node scripts/glue-encode-into.mjs DIR/tokenwarden.js
// Run on wasm-bindgen's unminified glue; fails unless the loop is found exactly once as
// expected, so a new glue layout cannot slip by.
import { readFileSync, writeFileSync } from 'node:fs';

const [gluePath] = process.argv.slice(2);
const glue = readFileSync(gluePath, 'utf8');

const LOOP = `    let len = arg.length;
    let ptr = malloc(len, 1) >>> 0;

    const mem = getUint8ArrayMemory0();

    let offset = 0;

    for (; offset < len; offset++) {
        const code = arg.charCodeAt(offset);
        if (code > 0x7F) break;
        mem[ptr + offset] = code;
    }
    if (offset !== len) {
        if (offset !== 0) {
            arg = arg.slice(offset);
        }
        ptr = realloc(ptr, len, len = offset + arg.length * 3, 1) >>> 0;
        const view = getUint8ArrayMemory0().subarray(ptr + offset, ptr + len);
        const ret = cachedTextEncoder.encodeInto(arg, view);

        offset += ret.written;
        ptr = realloc(ptr, len, offset, 1) >>> 0;
    }
`;

// `encodeInto` writes whole characters only: `read` (UTF-16 units) stops short of the length
// exactly when a non-ASCII character did not fit, and the rest is encoded after a `realloc`.
const NATIVE = `    let len = arg.length;
    let ptr = malloc(len, 1) >>> 0;
    let ret = cachedTextEncoder.encodeInto(arg, getUint8ArrayMemory0().subarray(ptr, ptr + len));
    let offset = ret.written;
    if (ret.read !== arg.length) {
        arg = arg.slice(ret.read);
        ptr = realloc(ptr, len, len = offset + arg.length * 3, 1) >>> 0;
        ret = cachedTextEncoder.encodeInto(arg, getUint8ArrayMemory0().subarray(ptr + offset, ptr + len));
        offset += ret.written;
        ptr = realloc(ptr, len, offset, 1) >>> 0;
    }
`;

const found = glue.split(LOOP).length - 1;
if (found !== 1) {
  console.error(`glue-encode-into: ${gluePath}: wasm-bindgen's string loop found ${found} times, expected once`);
  process.exit(1);
}
writeFileSync(gluePath, glue.replace(LOOP, NATIVE));
