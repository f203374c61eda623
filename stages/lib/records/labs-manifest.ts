// labs.json: the record format the labs stage publishes (every labelled image's lab, class, origin and
// session, and each lab's licence and labeller), read by split, the cross-lab study and the report.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { StageError } from '../../../pipeline/stage-api.js';

export const LABS_JSON = 'labs.json';

/** One labelled image as later stages see it. */
export interface LabImage {
  /** Path in this stage's output: images/<lab>/<CLASS>/<name>. */
  file: string;
  lab: string;
  class: string;
  /** Where it came from in the workspace (the smear, for a VOC crop). */
  origin: string;
  /** Session group, when the lab declares `sessions` and the stem matches. */
  session: string | null;
}

export interface LabSummary {
  name: string;
  root: string;
  licence: string;
  labelledBy: string;
  description: string;
  labels: 'folders' | 'csv' | 'voc-boxes';
  sessions: string | null;
  images: number;
  perClass: Record<string, number>;
  sessionCount: number | null;
}

export interface LabsManifest {
  classes: string[];
  labs: LabSummary[];
  images: LabImage[];
}

/** labs.json in a labs instance's output directory. */
export function readLabsManifest(dir: string): LabsManifest {
  const file = path.join(dir, LABS_JSON);
  if (!existsSync(file)) throw new StageError('labs.json is missing', file);
  return JSON.parse(readFileSync(file, 'utf8')) as LabsManifest;
}
