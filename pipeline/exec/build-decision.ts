// "Should this instance run?" as one ladder of named steps, checked in order, with no side effects:
// the real run carries the answer out, the dry run only reports it.
//   1. forced (`--force`)                      → run
//   2. its outputs are current under this key   → up to date
//   3. the local store holds this key, complete → restore from the store
//   4. a remote cache is configured             → try to fetch, else run
//   5. otherwise                                → run, saying what changed
import { diffKeyFields } from '../keys/key-diff.js';
import type { ResolvedKey } from '../keys/instance-key.js';
import type { RunContext } from './run-context.js';
import type { FileEntry } from '../store/store.js';

export type BuildDecision =
  | { kind: 'up-to-date' }
  | { kind: 'restore'; files: Record<string, FileEntry>; why: string }
  | { kind: 'fetch-or-run'; reason: string }
  | { kind: 'run'; reason: string };

export function decideBuild(rc: RunContext, id: string, rk: ResolvedKey, forced: boolean): BuildDecision {
  if (forced) return { kind: 'run', reason: 'forced' };
  const current = rc.current.verify(id, rk.key);
  if (current.ok) return { kind: 'up-to-date' };
  const stored = rc.store.readManifest(rk.key);
  if (stored && rc.store.complete(stored.files)) {
    return { kind: 'restore', files: stored.files, why: current.reason === 'not current' ? 'seen before' : current.reason };
  }
  const reason = whyRun(rc, id, rk);
  return rc.remote ? { kind: 'fetch-or-run', reason } : { kind: 'run', reason };
}

/** What changed since the instance's current outputs were built, for the log. */
function whyRun(rc: RunContext, id: string, rk: ResolvedKey): string {
  const e = rc.current.get(id);
  if (!e) return 'never ran';
  const prev = rc.store.readManifest(e.key);
  if (!prev) return 'key changed (previous manifest gone)';
  if (prev.key === rk.key) return 'outputs were changed by hand or are missing in the store';
  const lines = diffKeyFields(prev.fields, rk.fields, 3);
  return lines.length ? lines.slice(0, 3).join('; ') : 'key changed';
}
