// Passes JS strings into the wasm module with one native `TextEncoder#encodeInto` instead of the
// wasm-bindgen glue's character loop (`charCodeAt` per character until the first non-ASCII
// one, then `encodeInto` for the rest): the same bytes, the same buffer protocol (`malloc` of
// the string's length, `realloc` to three bytes per remaining unit only when a non-ASCII one is
// met, then to the length written). Every string the package hands to wasm goes this way: a
// token to `decodeJwt`/`verifyJwt`, a login's answer to the manager. Measured in Node 22 on a
// 749-character token: `decodeJwt` 7.9 -> 6.2 us.
//   node scripts/glue-encode-into.mjs DIR/tokenwarden.js
// Run on wasm-bindgen's unminified glue; fails unless the function is found exactly once as
// expected, so a new glue layout cannot slip by.
import { readFileSync, writeFileSync } from 'node:fs';

const [gluePath] = process.argv.slice(2);
const glue = readFileSync(gluePath, 'utf8');

// wasm-bindgen's whole function: a branch for a call without `realloc` (no call site of this
// package's glue makes one: checked below), then the loop.
const FUNCTION = /^function passStringToWasm0\(arg, malloc, realloc\) \{\n    if \(realloc === undefined\) \{\n[^]*?\n    WASM_VECTOR_LEN = offset;\n    return ptr;\n\}\n/m;
const LOOP_MARK = 'if (code > 0x7F) break;';

// `encodeInto` writes whole characters only: `read` (UTF-16 units) stops short of the length
// exactly when a non-ASCII character did not fit, and the rest is encoded after a `realloc`.
const NATIVE = `function passStringToWasm0(arg, malloc, realloc) {
    let len = arg.length;
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
    WASM_VECTOR_LEN = offset;
    return ptr;
}
`;

// The glue's fallback for an engine without `encodeInto` (every browser since 2019, Node 12):
// the package needs newer platforms than that (Web Locks, WebCrypto's Ed25519), so it goes.
const POLYFILL = `
if (!('encodeInto' in cachedTextEncoder)) {
    cachedTextEncoder.encodeInto = function (arg, view) {
        const buf = cachedTextEncoder.encode(arg);
        view.set(buf);
        return {
            read: arg.length,
            written: buf.length
        };
    };
}
`;

const fail = (what) => {
  console.error(`glue-encode-into: ${gluePath}: ${what}`);
  process.exit(1);
};
const match = glue.match(FUNCTION);
if (!match || !match[0].includes(LOOP_MARK) || glue.split('function passStringToWasm0(').length !== 2) {
  fail("wasm-bindgen's passStringToWasm0 is not where and as expected");
}
const twoArgs = glue.match(/passStringToWasm0\([^,()]+, [^,()]+\)/g);
if (twoArgs) fail(`a call without realloc: ${twoArgs[0]}`);
if (glue.split(POLYFILL).length !== 2) fail("wasm-bindgen's encodeInto fallback is not where expected");
writeFileSync(gluePath, glue.replace(FUNCTION, NATIVE).replace(POLYFILL, '\n'));
