// Workspace globs → files. Symbolic links are followed (a dataset folder is often a link to a bigger
// disk), but never into a directory that is already on the path being walked: a link loop such as
// `data/x/loop -> ..` would otherwise expand forever (fast-glob's followSymbolicLinks does).
import { readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import picomatch from 'picomatch';

/**
 * A value put into a glob (a dataset root, say) is a path, not a pattern: `set (v2)` or `set[1]` must
 * name that folder, so glob syntax in it is escaped.
 */
export function escapeGlob(value: string): string {
  return value.replace(/[\\*?[\]{}()!+@|]/g, '\\$&');
}

/** `~/x` → the user's home folder (a shell would have done it for `--set vars.dataRoot=~/x`). */
export function expandHome(pattern: string): string {
  return pattern === '~' || pattern.startsWith('~/') ? homedir() + pattern.slice(1) : pattern;
}

/** The literal folder a pattern starts from, unescaped: where its files would have to be. */
export function patternBase(pattern: string): string {
  const scan = picomatch.scan(pattern);
  const base = (scan.isGlob ? scan.base : scan.base.includes('/') ? scan.base.slice(0, scan.base.lastIndexOf('/')) : '').replace(/^\.\/?/, '');
  return base.replace(/\\(.)/g, '$1');
}

interface Walk {
  /** Workspace-relative start directory ('' for the root). */
  base: string;
  /** How many directory levels below base a match can lie; Infinity with `**`. */
  depth: number;
}

function walksFor(patterns: string[]): Walk[] {
  const byBase = new Map<string, number>();
  for (const pattern of patterns) {
    const scan = picomatch.scan(pattern);
    const rest = scan.glob === '' ? [] : scan.glob.split('/');
    const depth = rest.includes('**') || /\*\*/.test(scan.glob) ? Infinity : Math.max(0, rest.length - 1);
    // A glob-free pattern names one file: walk its folder.
    const dir = patternBase(pattern);
    byBase.set(dir, Math.max(byBase.get(dir) ?? -1, scan.isGlob ? depth : 0));
  }
  // A base inside another base's walk is covered by it.
  const walks = [...byBase].map(([base, depth]) => ({ base, depth }));
  return walks.filter((w) => !walks.some((o) => o !== w && o.depth === Infinity && (o.base === '' || w.base.startsWith(`${o.base}/`))));
}

/** Files (workspace-relative, or absolute under an absolute base; '/'-separated, sorted) matching `patterns` (`!x` excludes) and no `ignore` glob. */
export function globFiles(root: string, patterns: string[], ignore: string[]): string[] {
  const positive = patterns.filter((p) => !p.startsWith('!'));
  if (positive.length === 0) return [];
  const matches = picomatch(positive);
  const excluded = picomatch([...ignore, ...patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1))], { dot: true });
  const found = new Set<string>();
  // `real`: the directory's real path; `ancestors`: the real paths from the walk's start down to it.
  const visit = (rel: string, abs: string, real: string, depth: number, ancestors: string[]) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      return; // vanished or unreadable: not an input
    }
    for (const entry of entries) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      const childAbs = resolve(abs, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      let linkedReal: string | null = null;
      if (entry.isSymbolicLink()) {
        try {
          const st = statSync(childAbs);
          isDir = st.isDirectory();
          isFile = st.isFile();
          if (isDir) linkedReal = realpathSync(childAbs);
        } catch {
          continue; // dangling link
        }
      }
      if (isFile) {
        if (matches(childRel) && !excluded(childRel)) found.add(childRel);
      } else if (isDir && depth > 0 && !excluded(`${childRel}/`)) {
        const childReal = linkedReal ?? resolve(real, entry.name);
        if (ancestors.includes(childReal)) continue; // a link back up the path: a loop
        visit(childRel, childAbs, childReal, depth - 1, [...ancestors, childReal]);
      }
    }
  };
  for (const walk of walksFor(positive)) {
    // An absolute base (a dataset outside the workspace) is walked where it is; its files keep absolute names.
    const abs = isAbsolute(walk.base) ? walk.base : resolve(root, walk.base);
    let real: string;
    try {
      real = realpathSync(abs);
    } catch {
      continue;
    }
    visit(walk.base, abs, real, walk.depth, [real]);
  }
  return [...found].sort();
}
