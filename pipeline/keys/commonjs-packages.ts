// Stage bundles load CommonJS packages with require(), not import. Node's import of a CommonJS file
// first lexes it (and every file it re-exports) for named exports: for @tensorflow/tfjs that is about
// 0.4 s of CPU in every stage process, a third of a skipped instance's cost. Only packages where both
// paths load the same file are switched: CommonJS (no "type": "module") with no "exports" map, so no
// condition can send `import` and `require` to different builds.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import type { Plugin } from 'esbuild';

/** The identifier the bundle's banner binds to a require() rooted at the bundle's location. */
export const BUNDLE_REQUIRE = '__pipeRequire';
export const BUNDLE_REQUIRE_BANNER = `import { createRequire as __pipeCreateRequire } from "node:module";\nconst ${BUNDLE_REQUIRE} = __pipeCreateRequire(import.meta.url);`;

/** esbuild namespace of the one-line modules (the metafile lists them as `commonjs-package:<name>`). */
export const NAMESPACE = 'commonjs-package';

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** True when `specifier`, imported from `fromDir`, is a CommonJS file that import and require both load. */
export function loadsSameCommonJs(specifier: string, fromDir: string): boolean {
  if (specifier.startsWith('node:') || specifier.startsWith('.') || specifier.startsWith('/')) return false;
  let file: string;
  try {
    file = createRequire(join(fromDir, 'noop.js')).resolve(specifier);
  } catch {
    return false; // not resolvable by require (an ESM-only package, a builtin): leave the import alone
  }
  if (!file.endsWith('.js') && !file.endsWith('.cjs')) return false;
  const name = packageName(specifier);
  const marker = `${sep}node_modules${sep}${name.split('/').join(sep)}`;
  const at = file.lastIndexOf(marker + sep);
  if (at < 0) return false;
  const root = file.slice(0, at + marker.length);
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { type?: string; exports?: unknown };
    if (pkg.exports !== undefined || pkg.type === 'module') return false;
    // A nested package.json (dist/esm/package.json) may still make this directory's .js files ESM.
    for (let dir = dirname(file); dir.length > root.length; dir = dirname(dir)) {
      try {
        const inner = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string };
        if (inner.type === 'module') return false;
        break;
      } catch {
        // no package.json here: keep walking up
      }
    }
    return true;
  } catch {
    return false;
  }
}

/** esbuild plugin: each such package becomes a one-line CommonJS module that requires it at run time. */
export function commonJsPackages(): Plugin {
  return {
    name: 'require-commonjs-packages',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.namespace === NAMESPACE || !loadsSameCommonJs(args.path, args.resolveDir)) return undefined;
        return { path: args.path, namespace: NAMESPACE };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
        contents: `module.exports = ${BUNDLE_REQUIRE}(${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
    },
  };
}
