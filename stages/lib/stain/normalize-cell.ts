// One entry point for stain/colour normalisation of a cell on white, shared by the normalize stage,
// evaluate and `pipe predict` so that every path applies exactly the same transform.
import { assertRgb, cellMask, DEFAULT_WHITE_THRESHOLD } from './cell-mask.js';
import { greyWorldNormalize } from './grey-world.js';
import { macenkoNormalize, type StainBasis } from './macenko.js';
import { DEFAULT_REFERENCE, type StainReference } from './reference.js';
import { reinhardNormalize } from './reinhard.js';
import { gaussianBlurRgb } from '../image/gaussian-blur.js';

export const NORMALIZE_METHODS = ['reinhard', 'macenko', 'grey-world', 'none'] as const;
export type NormalizeMethod = (typeof NORMALIZE_METHODS)[number];

export interface NormalizeParams {
  method: NormalizeMethod;
  /** Fixed target statistics; any field left out falls back to DEFAULT_REFERENCE. */
  reference?: Partial<StainReference>;
  /** A pixel whose darkest channel is at least this bright is background (default 245). */
  whiteThreshold?: number;
  /**
   * Gaussian σ, in pixels of the canonical cell, of a low-pass after the colour normalisation (0 or
   * absent: none): every lab's cells at one optical resolution (BENCHMARKS.md, Labs).
   */
  blurSigma?: number;
  /** Reinhard only: the most a LAB channel's spread may be stretched towards the reference's (absent: no cap). */
  maxGain?: number;
}

/** JSON Schema of NormalizeParams, for the stage's paramsSchema and for predict's validation. */
export const normalizeParamsSchema = {
  type: 'object',
  properties: {
    method: { enum: [...NORMALIZE_METHODS] },
    whiteThreshold: { type: 'number', minimum: 1, maximum: 255 },
    blurSigma: { type: 'number', minimum: 0, maximum: 32 },
    maxGain: { type: 'number', exclusiveMinimum: 0 },
    reference: {
      type: 'object',
      properties: {
        lab: {
          type: 'object',
          properties: {
            mean: { type: 'array', items: { type: 'number' }, minItems: 3, maxItems: 3 },
            std: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 3, maxItems: 3 },
          },
          required: ['mean', 'std'],
        },
        stains: {
          type: 'object',
          properties: {
            stains: {
              type: 'array',
              minItems: 2,
              maxItems: 2,
              items: { type: 'array', items: { type: 'number' }, minItems: 3, maxItems: 3 },
            },
            maxConcentrations: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 2, maxItems: 2 },
          },
          required: ['stains', 'maxConcentrations'],
        },
        rgbMean: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 3, maxItems: 3 },
        description: { type: 'string' },
      },
      additionalProperties: false,
    },
  },
  required: ['method'],
} as const;

export function resolveReference(reference?: Partial<StainReference>): StainReference {
  return { ...DEFAULT_REFERENCE, ...(reference ?? {}) };
}

/**
 * Normalises the cell pixels of `rgb` (interleaved RGB, width×height×3) to the reference; pixels that
 * are near-white stay, and come back as, pure white (with `blurSigma`, the low-pass then softens the
 * cell's edge into it). Returns a new buffer; the input is not modified.
 */
export function normalizeCell(
  rgb: Uint8Array,
  width: number,
  height: number,
  params: NormalizeParams = { method: 'reinhard' },
): Uint8Array {
  assertRgb(rgb, width, height);
  if (!(NORMALIZE_METHODS as readonly string[]).includes(params.method)) {
    throw new Error(`normalize method must be one of ${NORMALIZE_METHODS.join(', ')}, got ${JSON.stringify(params.method)}`);
  }
  const coloured = normalizeColour(rgb, width, height, params);
  const sigma = params.blurSigma ?? 0;
  return sigma > 0 ? gaussianBlurRgb(coloured, width, height, sigma) : coloured;
}

function normalizeColour(rgb: Uint8Array, width: number, height: number, params: NormalizeParams): Uint8Array {
  const mask = cellMask(rgb, width, height, params.whiteThreshold ?? DEFAULT_WHITE_THRESHOLD);
  const ref = resolveReference(params.reference);
  switch (params.method) {
    case 'reinhard':
      return reinhardNormalize(rgb, mask, ref.lab, params.maxGain ?? Infinity);
    case 'macenko':
      return macenkoNormalize(rgb, mask, ref.stains as StainBasis);
    case 'grey-world':
      return greyWorldNormalize(rgb, mask, ref.rgbMean);
    case 'none': {
      // Still snap the background to pure white, so 'none' differs from the others only in colour.
      const out = new Uint8Array(rgb.length).fill(255);
      for (let i = 0, p = 0; i < mask.length; i++, p += 3) if (mask[i]) out.set(rgb.subarray(p, p + 3), p);
      return out;
    }
  }
}

export { cellMask, DEFAULT_WHITE_THRESHOLD };
export type { StainReference };
