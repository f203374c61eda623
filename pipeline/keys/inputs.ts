// Resolves an instance's inputs: workspace globs (glob-files.ts) and files from deps' published outputs.
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { PipelineError } from '../config/errors.js';
import picomatch from 'picomatch';
import { globFiles, patternBase } from './glob-files.js';
import { nameProblem, rejectedInputMessage } from './input-names.js';
import type { FileHashCache } from './file-hashes.js';
import type { Instance } from '../config/plan.js';
import type { InputFile } from '../stage-api.js';
import type { WorkspacePaths } from '../store/paths.js';

/** What the runner knows of a finished dep: its key and published files (rel → hash). */
export interface FinishedInstance {
  key: string;
  hashes: Record<string, string>;
}

const IGNORE = ['artifacts/**', '.pipe/**', 'node_modules/**', '.git/**'];

/** The instance's input files, and a warning for each file left out by name (input-names.ts). */
export function resolveInputs(
  inst: Instance,
  ws: WorkspacePaths,
  hashes: FileHashCache,
  finished: (id: string) => FinishedInstance,
): { files: InputFile[]; rejected: string[] } {
  const out: InputFile[] = [];
  const rejected: string[] = [];
  const usable = (rel: string) => {
    const problem = nameProblem(rel);
    if (problem) rejected.push(rejectedInputMessage(inst.id, rel, problem));
    return !problem;
  };
  if (inst.inputGlobs.length) {
    const rels = globFiles(ws.root, inst.inputGlobs, IGNORE);
    if (rels.length === 0) throw new PipelineError(`${inst.id}: its inputs match no file\n${inst.inputGlobs.map((g) => `  ${describePattern(ws.root, g)}`).join('\n')}`);
    for (const rel of rels) {
      if (!usable(rel)) continue;
      const path = resolve(ws.root, rel);
      out.push({ path, rel, hash: hashes.hash(path, statSync(path)) });
    }
  }
  const seen = new Set<string>();
  for (const f of inst.inputFrom) {
    const match = picomatch(f.glob, { dot: true });
    for (const depId of f.instances) {
      const dep = finished(depId);
      const dir = ws.instanceDir(depId);
      for (const rel of Object.keys(dep.hashes).sort()) {
        // Two `inputs` entries may select the same file; it is one input.
        const name = `${depId}:${rel}`;
        if (seen.has(name) || !match(rel)) continue;
        seen.add(name);
        if (!usable(rel)) continue;
        out.push({ path: join(dir, rel), rel, hash: dep.hashes[rel]!, fromInstance: depId });
      }
    }
  }
  return { files: out, rejected };
}

/** `"<pattern>" (folder <base>: missing | empty of matches)`: where the pattern looked. */
function describePattern(root: string, pattern: string): string {
  if (pattern.startsWith('!')) return `"${pattern}" (an exclusion)`;
  const base = patternBase(pattern);
  const abs = resolve(root, base);
  const where = isAbsolute(base) ? base : `${base || '.'} (${abs})`;
  return `"${pattern}": folder ${where} ${existsSync(abs) ? 'exists but holds no match' : 'does not exist'}`;
}

/** Checks produced files against the stage's `outputs` globs; returns the first offender. */
export function outputMatcher(globs: string[] | undefined): (rel: string) => boolean {
  if (!globs) return () => true;
  const m = picomatch(globs, { dot: true });
  return (rel) => m(rel);
}
