// Rewrites wasm-bindgen's glue (tokenwarden.js of each entry, web and node) where the package
// needs less or faster than its general form, each rewrite checked: the build fails unless the
// text it replaces is found exactly as expected, so a new glue layout cannot slip by.
//   node scripts/trim-glue.mjs DIR/tokenwarden.js        (run on the unminified glue)
// 1. Strings into wasm with one native `TextEncoder#encodeInto` instead of the glue's character
//    loop (`charCodeAt` per character until the first non-ASCII one, then `encodeInto` for the
//    rest): the same bytes, the same buffer protocol (`malloc` of the string's length, `realloc`
//    to three bytes per remaining unit only when a non-ASCII one is met, then to the length
//    written). Every string the package hands to wasm goes this way: a token to `decodeJwt` /
//    `verifyJwt`, a login's answer to the manager. Node 20, a 749-character token: `decodeJwt`
//    7.9 -> 6.2 us. Also gone: the branch for a call without `realloc` (no call site makes one)
//    and the fallback for a platform without `encodeInto` (every browser since 2019, Node 12; the
//    package needs newer ones: Web Locks, WebCrypto's Ed25519).
// 2. The browser glue (--target web) keeps only the loading its two callers use: index.js and
//    worker.js call `init({ module_or_path: URL })`, which fetches the module; the glue is not a
//    subpath of the package (package.json `exports`), so nothing else can call it. Gone:
//    `initSync`, the deprecated positional argument and its warning, and instantiation from a
//    `WebAssembly.Module` or bytes. A call with no argument still loads the default URL. The
//    fallback for a server that does not send `application/wasm` stays.
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
  console.error(`trim-glue: ${gluePath}: ${what}`);
  process.exit(1);
};
/** `text` with `from` (a string found exactly once, or a RegExp matching once) replaced. */
const replaceOnce = (text, from, to, what) => {
  const found = typeof from === 'string' ? text.split(from).length - 1 : (text.match(new RegExp(from, 'gm')) ?? []).length;
  if (found !== 1) fail(`${what}: found ${found} times, expected once`);
  return text.replace(from, to);
};

let out = glue;
const match = out.match(FUNCTION);
if (!match || !match[0].includes(LOOP_MARK)) fail("wasm-bindgen's passStringToWasm0 is not where and as expected");
const twoArgs = out.match(/passStringToWasm0\([^,()]+, [^,()]+\)/g);
if (twoArgs) fail(`a call without realloc: ${twoArgs[0]}`);
out = replaceOnce(out, FUNCTION, NATIVE, 'passStringToWasm0');
out = replaceOnce(out, POLYFILL, '\n', "the encodeInto fallback");

if (out.includes('function __wbg_init_once(')) {
  // The browser glue: initSync, the deprecated argument, loading from a Module or bytes.
  out = replaceOnce(out, /^function initSync\(module\) \{\n[^]*?\n\}\n\n/m, '', 'initSync');
  out = replaceOnce(out, 'export { initSync, __wbg_init as default };', 'export { __wbg_init as default };', 'the glue\'s exports');
  out = replaceOnce(out, `    if (module_or_path !== undefined) {
        if (Object.getPrototypeOf(module_or_path) === Object.prototype) {
            ({module_or_path} = module_or_path)
        } else {
            console.warn('using deprecated parameters for the initialization function; pass a single object instead')
        }
    }
`, `    if (module_or_path !== undefined) ({module_or_path} = module_or_path);
`, 'the deprecated argument');
  out = replaceOnce(out, `    } else {
        const instance = await WebAssembly.instantiate(module, imports);

        if (instance instanceof WebAssembly.Instance) {
            return { instance, module };
        } else {
            return instance;
        }
    }
`, `    }
`, 'loading from a Module or bytes');
}
writeFileSync(gluePath, out);
