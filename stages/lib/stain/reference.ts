// Fixed reference statistics that stain normalisation maps every cell onto. They are constants (or
// params overriding them), never computed from the data set at run time, so the normalize stage's
// per-item cache stays valid when images are added or removed.
import type { StainBasis } from './macenko.js';
import type { LabStats } from './reinhard.js';

export interface StainReference {
  /** Target CIELAB mean/std of cell pixels (Reinhard). */
  lab: LabStats;
  /** Target stain vectors and robust maximum concentrations (Macenko). */
  stains: StainBasis;
  /** Target RGB means of cell pixels (grey-world). */
  rgbMean: [number, number, number];
  description?: string;
}

/**
 * Medians over 160 PBC cells (40 per class, spread over data/pbc_wbc4) of each cell's statistics after
 * the canonical cell representation, measured by `node --import tsx bench/robustness-reference.ts
 * data/pbc_wbc4 40`. Constants on purpose: see the note at the top of this file.
 */
export const DEFAULT_REFERENCE: StainReference = {
  lab: { mean: [43.7881, 33.5712, -29.1666], std: [15.9775, 12.5929, 18.6472] },
  stains: {
    stains: [
      [0.7336, 0.6108, 0.2977],
      [0.3953, 0.9118, 0.1112],
    ],
    maxConcentrations: [1.2258, 3.0612],
  },
  rgbMean: [129.8785, 82.7617, 148.5256],
  description: 'PBC (data/pbc_wbc4), 160 canonical cells, per-cell medians',
};
