// RandStainNA-style augmentation (Shen et al., MICCAI 2022): instead of mapping every cell onto one
// fixed stain template, each augmented variant is mapped (Reinhard, in CIELAB) onto a *virtual*
// template drawn at random. Here the template distribution is centred on the cell's own statistics
// (after the normalize stage: the reference) with spreads given as params — not fitted to the data
// set, because in a leave-one-lab-out study a distribution fitted to all labs would carry the held-out
// lab's colours into training.
import type { Random } from '../random.js';
import { labStats, reinhardNormalize, type LabStats } from './reinhard.js';
import { cellMask } from './cell-mask.js';

export interface RandomTemplateParams {
  /** Standard deviation of the template's L, a, b means around the cell's (CIELAB units). */
  meanSigma: [number, number, number];
  /** Standard deviation of log(template std / cell std), per L, a, b channel. */
  stdLogSigma: [number, number, number];
  p?: number;
}

/** A standard normal draw (Box–Muller), from two uniforms of the stream. */
function normal(rng: Random): number {
  const u = Math.max(rng(), 1e-12);
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Multiplicative and additive draws of one template: always six normals, whatever the values. */
export interface TemplateDraw {
  meanShift: [number, number, number];
  stdFactor: [number, number, number];
}

export function drawStainTemplate(rng: Random, params: RandomTemplateParams): TemplateDraw {
  const meanShift = params.meanSigma.map((s) => normal(rng) * s) as [number, number, number];
  const stdFactor = params.stdLogSigma.map((s) => Math.exp(normal(rng) * s)) as [number, number, number];
  return { meanShift, stdFactor };
}

/** The cell's pixels mapped onto the drawn template around their own statistics; background stays white. */
export function applyStainTemplate(rgb: Uint8Array, width: number, height: number, draw: TemplateDraw, whiteThreshold: number): Uint8Array {
  const mask = cellMask(rgb, width, height, whiteThreshold);
  const own = labStats(rgb, mask);
  if (!own) return rgb.slice();
  const template: LabStats = {
    mean: own.mean.map((m, c) => m + draw.meanShift[c]!) as [number, number, number],
    std: own.std.map((s, c) => s * draw.stdFactor[c]!) as [number, number, number],
  };
  return reinhardNormalize(rgb, mask, template);
}

export const randomTemplateParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['meanSigma', 'stdLogSigma'],
  properties: {
    meanSigma: { type: 'array', items: { type: 'number', minimum: 0, maximum: 50 }, minItems: 3, maxItems: 3 },
    stdLogSigma: { type: 'array', items: { type: 'number', minimum: 0, maximum: 2 }, minItems: 3, maxItems: 3 },
    p: { type: 'number', minimum: 0, maximum: 1 },
  },
} as const;
