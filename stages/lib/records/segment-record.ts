// One original's entry in segment's records.jsonl (and records/<key>.json): where its canonical cell
// went and how it was found. Written by segment, read by split.
import type { CanonicalRecord } from '../cell/cell-representation.js';

export type SegmentStatus = 'ok' | 'fallback' | 'dropped' | 'rejected';

export interface SegmentRecord extends Omit<CanonicalRecord, 'status'> {
  /** Path of the original, as the runner named it (relative to the workspace or the producing stage). */
  file: string;
  class: string;
  /** The lab the image comes from (the labs stage's layout: images/<lab>/<CLASS>/<name>). */
  lab: string;
  sha256: string;
  status: SegmentStatus;
  /** Output paths (relative to this stage's output) when written. */
  cell: string | null;
  mask: string | null;
}
