// Stack traces of bundled stage and command code, mapped back to the TypeScript sources through each
// bundle's inline source map when a stack is shown, not at every module load. Node's own source-map
// support (process.setSourceMapsEnabled) reads and indexes the map of every module a process loads,
// tfjs's large ones included: about 0.4 s of CPU at the start of each stage process, some 75 times a run.
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const INLINE_MAP = '//# sourceMappingURL=data:application/json;base64,';
const maps = new Map<string, SourceMap | null>();

function inlineMap(bundle: string): SourceMap | null {
  let map = maps.get(bundle);
  if (map !== undefined) return map;
  map = null;
  try {
    const text = readFileSync(bundle, 'utf8');
    const at = text.lastIndexOf(INLINE_MAP);
    if (at >= 0) map = new SourceMap(JSON.parse(Buffer.from(text.slice(at + INLINE_MAP.length).trim(), 'base64').toString('utf8')));
  } catch {
    map = null; // an unreadable or malformed map leaves the frame as it was
  }
  maps.set(bundle, map);
  return map;
}

/** `stack` with every frame in a `.pipe/bundles/*.mjs` file pointed at its source file, line and column. */
export function mapBundleStack(stack: string): string {
  return stack.replace(/((?:file:\/\/)?\/[^\s()]*?\.pipe\/bundles\/[^\s()/]+\.mjs):(\d+):(\d+)/g, (frame, file: string, line: string, column: string) => {
    const bundle = file.startsWith('file://') ? fileURLToPath(file) : file;
    const entry = inlineMap(bundle)?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry) || !entry.originalSource) return frame;
    const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : resolve(dirname(bundle), entry.originalSource);
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}
