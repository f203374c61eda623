// Checks a built training-kernels.wasm is safe to instantiate on tfjs-backend-wasm's memory:
// it imports only env.memory and has no data or start section (build.sh checks, on the compiler's
// assembly, that no function touches a global such as the stack pointer lld always defines).
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const bytes = readFileSync(file);
const module = new WebAssembly.Module(bytes);
const imports = WebAssembly.Module.imports(module);
const fail = (why) => { console.error(`${file}: ${why}`); process.exit(1); };
if (imports.length !== 1 || imports[0].module !== 'env' || imports[0].name !== 'memory' || imports[0].kind !== 'memory') {
  fail(`imports must be exactly env.memory, got ${JSON.stringify(imports)}`);
}
// Section ids: 8 start, 11 data, 12 data count.
let at = 8;
const leb = () => { let v = 0, shift = 0, b; do { b = bytes[at++]; v |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80); return v >>> 0; };
while (at < bytes.length) {
  const id = bytes[at++];
  const len = leb();
  if (id === 8 || id === 11 || id === 12) fail(`has section ${id} (start/data): it would write the shared memory`);
  at += len;
}
const exports = WebAssembly.Module.exports(module).map((e) => e.name);
console.log(`${file}: ok (exports ${exports.join(', ')})`);
