// Bundles a stage or command module with esbuild into .pipe/bundles/ (inside the workspace, so bare
// imports resolve from its node_modules). esbuild's metafile lists every local file the module
// transitively imports; their content hashes form the module's code hash. A no-op run re-bundles
// nothing: the index remembers each input's (size, mtime, inode).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { FileHashCache } from './file-hashes.js';
import { writeFileAtomic } from '../store/fs-atomic.js';
import { PipelineError } from '../config/errors.js';
import { hashJson } from './hash.js';
import { BUNDLE_REQUIRE_BANNER, commonJsPackages, NAMESPACE as COMMONJS_NAMESPACE } from './commonjs-packages.js';
import type { WorkspacePaths } from '../store/paths.js';

export interface BundledModule {
  /** Absolute path of the bundle to import. */
  bundle: string;
  /** sha256 over the local source files (workspace-relative path → content hash). */
  codeHash: string;
  files: Record<string, string>;
  /** The module's paramsSchema, once a stage host has described it (null: it has none). */
  paramsSchema?: object | null;
}

/** Bumped when the bundles' shape changes (build options, plugins): older ones are rebuilt once. */
const BUNDLE_FORMAT = 2;

interface IndexEntry {
  format?: number;
  bundle: string;
  codeHash: string;
  files: Record<string, string>;
  stats: Record<string, [number, number, number]>;
  paramsSchema?: object | null;
}

export class ModuleBundler {
  private index: Record<string, IndexEntry>;
  private readonly indexFile: string;
  private pending = new Map<string, Promise<BundledModule>>();
  private dirty = false;

  constructor(private readonly ws: WorkspacePaths, private readonly hashes: FileHashCache) {
    this.indexFile = join(ws.bundlesDir, 'index.json');
    try {
      this.index = JSON.parse(readFileSync(this.indexFile, 'utf8')) as Record<string, IndexEntry>;
    } catch {
      this.index = {};
    }
  }

  /** `owner` names the stage or command in errors. */
  bundle(modulePath: string, owner: string): Promise<BundledModule> {
    let p = this.pending.get(modulePath);
    if (!p) {
      p = this.build(modulePath, owner);
      this.pending.set(modulePath, p);
    }
    return p;
  }

  private fresh(entry: IndexEntry | undefined): boolean {
    if (!entry || entry.format !== BUNDLE_FORMAT || !existsSync(entry.bundle)) return false;
    for (const [rel, [size, mtime, ino]] of Object.entries(entry.stats)) {
      try {
        const st = statSync(join(this.ws.root, rel));
        if (st.size !== size || st.mtimeMs !== mtime || st.ino !== ino) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  private async build(modulePath: string, owner: string): Promise<BundledModule> {
    const cached = this.index[modulePath];
    if (cached && this.fresh(cached)) return cached;
    const entry = join(this.ws.root, modulePath);
    if (!existsSync(entry)) throw new PipelineError(`${owner}: module ${modulePath} does not exist (create it, or run only other stages: pipe run <stage>)`);
    const outfile = join(this.ws.bundlesDir, `${modulePath.replace(/[^A-Za-z0-9_.-]+/g, '__')}.mjs`);
    const { build } = await import('esbuild');
    let result;
    try {
      result = await build({
        entryPoints: [entry],
        absWorkingDir: this.ws.root,
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        sourcemap: 'inline',
        metafile: true,
        logLevel: 'silent',
        banner: { js: BUNDLE_REQUIRE_BANNER },
        plugins: [commonJsPackages()],
        // Written aside and renamed, so a concurrent `pipe status` never exposes a half-written bundle.
        write: false,
      });
      for (const f of result.outputFiles) writeFileAtomic(f.path, Buffer.from(f.contents));
    } catch (e) {
      const errors = (e as { errors?: { text: string; location?: { file: string; line: number; column: number } }[] }).errors ?? [];
      const detail = errors.map((x) => (x.location ? `${x.location.file}:${x.location.line}:${x.location.column}: ${x.text}` : x.text)).join('\n  ');
      throw new PipelineError(`${owner}: cannot bundle ${modulePath}:\n  ${detail || (e as Error).message}`);
    }
    const files: Record<string, string> = {};
    const stats: IndexEntry['stats'] = {};
    for (const input of Object.keys(result.metafile.inputs).sort()) {
      if (input.includes('node_modules/') || input.startsWith('<') || input.startsWith(`${COMMONJS_NAMESPACE}:`)) continue;
      const abs = join(this.ws.root, input);
      const st = statSync(abs);
      const rel = relative(this.ws.root, abs);
      files[rel] = this.hashes.hash(abs, st);
      stats[rel] = [st.size, st.mtimeMs, st.ino];
    }
    const out: IndexEntry = { format: BUNDLE_FORMAT, bundle: outfile, codeHash: hashJson(files), files, stats };
    this.index[modulePath] = out;
    this.dirty = true;
    return out;
  }

  /** Caches a module's paramsSchema with its bundle: the next run checks params without loading the module. */
  rememberSchema(modulePath: string, schema: object | null): void {
    const entry = this.index[modulePath];
    if (!entry) return;
    entry.paramsSchema = schema;
    this.dirty = true;
  }

  save(): void {
    if (this.dirty) writeFileAtomic(this.indexFile, JSON.stringify(this.index));
    this.dirty = false;
  }
}
