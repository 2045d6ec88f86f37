// Prints the names a wasm module links, one per line: its exports (`export NAME`) and the
// function names of its `name` section (`func NAME`, Rust's mangled symbols as rustc wrote them).
// Read from cargo's artefact before wasm-bindgen and wasm-opt, whose name section is intact.
// Usage: node scripts/wasm-symbols.mjs FILE.wasm
import { readFileSync } from 'node:fs';

const bytes = readFileSync(process.argv[2]);
const module = new WebAssembly.Module(bytes);
const out = [];
for (const { name } of WebAssembly.Module.exports(module)) out.push(`export ${name}`);
const sections = WebAssembly.Module.customSections(module, 'name');
if (sections.length === 0) {
  console.error(`wasm-symbols: ${process.argv[2]} has no name section`);
  process.exit(2);
}
const view = new Uint8Array(sections[0]);
let at = 0;
const leb = () => {
  let value = 0, shift = 0, byte;
  do { byte = view[at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
  return value;
};
const decoder = new TextDecoder();
while (at < view.length) {
  const id = view[at++];
  const size = leb();
  const end = at + size;
  if (id === 1) { // function names: vec(index, name)
    for (let n = leb(); n > 0; n--) {
      leb();
      const length = leb();
      out.push(`func ${decoder.decode(view.subarray(at, at + length))}`);
      at += length;
    }
  }
  at = end;
}
process.stdout.write(out.join('\n') + '\n');
