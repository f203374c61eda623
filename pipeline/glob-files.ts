// Workspace globs → files. Symbolic links are followed (a dataset folder is often a link to a bigger
// disk), but never into a directory that is already on the path being walked: a link loop such as
// `data/x/loop -> ..` would otherwise expand forever (fast-glob's followSymbolicLinks does).
import { readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import picomatch from 'picomatch';

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
    const base = scan.base.replace(/^\.\/?/, '');
    const rest = scan.glob === '' ? [] : scan.glob.split('/');
    const depth = rest.includes('**') || /\*\*/.test(scan.glob) ? Infinity : Math.max(0, rest.length - 1);
    // A glob-free pattern names one file: walk its folder.
    const [dir, d] = scan.isGlob ? [base, depth] : [base.includes('/') ? base.slice(0, base.lastIndexOf('/')) : '', 0];
    byBase.set(dir, Math.max(byBase.get(dir) ?? -1, d));
  }
  // A base inside another base's walk is covered by it.
  const walks = [...byBase].map(([base, depth]) => ({ base, depth }));
  return walks.filter((w) => !walks.some((o) => o !== w && o.depth === Infinity && (o.base === '' || w.base.startsWith(`${o.base}/`))));
}

/** Files (workspace-relative, '/'-separated, sorted) matching `patterns` (`!x` excludes) and no `ignore` glob. */
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
      const childAbs = join(abs, entry.name);
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
        const childReal = linkedReal ?? join(real, entry.name);
        if (ancestors.includes(childReal)) continue; // a link back up the path: a loop
        visit(childRel, childAbs, childReal, depth - 1, [...ancestors, childReal]);
      }
    }
  };
  for (const walk of walksFor(positive)) {
    const abs = join(root, walk.base);
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
