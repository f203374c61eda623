// Cache keys. An instance's key is sha256 over canonical JSON of these fields, in this order; what
// the fields hold is also stored in its manifest so `pipe explain` can diff them field by field.
import { hashJson } from './hash.js';

export interface KeyFields {
  /** Key format; bump to invalidate every key when the runner's semantics change. */
  format: number;
  instance: string;
  matrix: Record<string, string>;
  /** Module stages: workspace-relative source files → content hash; shell stages: the command. */
  code: { module: Record<string, string> } | { command: string };
  params: unknown;
  /** Whole stages: input path (`rel` or `instance:rel`) → content hash. Per-item: item path → item key. */
  inputs: Record<string, string>;
  /** Dep instance → the digest of its published files (its key if it publishes none); per-item stages: only deps that do not provide the items. */
  deps: Record<string, string>;
  runtime: { node: string; lockfile: string | null };
  /** Declared env variables → `sha256:<hex>` of their value (null when unset); never the value itself. */
  env: Record<string, string | null>;
  outputs: string[];
  /** Stages that name their deps (`deps: { alias: selector }`): alias → instance ids, since the stage reads by alias. */
  depNames?: Record<string, string[]>;
  /** Per-item stages only: the hash of the fields every item key shares. */
  itemCommon?: string;
}

export const KEY_FORMAT = 1;

export function keyOf(fields: KeyFields): string {
  return hashJson(fields);
}

/** Item key of a per-item stage: the shared fields, plus the item's own path and content. */
export function itemKeyOf(itemCommon: string, from: string, rel: string, contentHash: string): string {
  return hashJson({ common: itemCommon, from, rel, content: contentHash });
}

/** Items are named by path, prefixed with the producing instance when they come from a dep. */
export function itemName(from: string, rel: string): string {
  return from ? `${from}:${rel}` : rel;
}
