// The one classified image that metrics.ts measures and predictions-csv.ts writes and reads; its own
// file so that neither imports the other.
/** One classified image. */
export interface Prediction {
  /** Stable id of the image, e.g. its path relative to the producing stage's output dir. */
  path: string;
  /** Where the image comes from: the same-source test split (e.g. "pbc") or a shifted set ("stain-shift"). */
  source: string;
  trueClass: string;
  predictedClass: string;
  /** Softmax output in the order of `classes`, when available. */
  probabilities?: number[];
}
