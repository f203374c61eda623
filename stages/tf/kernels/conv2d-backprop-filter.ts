// Conv2DBackpropFilter for wasm (missing in stock). dW[k, out] = Σ_pixels colsᵀ[k, pixel]·dy[pixel, out]
// with k = (ky, kx, in): one XNNPACK matrix product per chunk whose result is already in the
// filter's [kh, kw, in, out] layout. colsᵀ is built from a channel-major copy of x, so every row
// of it is a few contiguous runs of an input row (zeros at the borders). The product's right-hand
// side is dy itself, the smaller operand, which XNNPACK packs per call. Large batches are split into
// chunks of whole images to bound the buffer.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, dispose, heapF32, runStock } from '../wasm-kernel-utils.js';
import { transposeMatrix } from './batch-mat-mul.js';

/** Upper bound on the colsᵀ buffer, in floats (32 MiB); tests lower it to exercise chunking. */
export const filterGradLimits = { maxColsFloats: 8 * 1024 * 1024 };

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (attrs.dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad,
    attrs.dimRoundingMode, false, 'channelsLast');
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const k = filterHeight * filterWidth * inChannels;
  const pixelsPerImage = outHeight * outWidth;
  const imagesPerChunk = Math.max(1, Math.min(batchSize, Math.floor(filterGradLimits.maxColsFloats / (pixelsPerImage * k))));
  const chunks = Math.ceil(batchSize / imagesPerChunk);

  // x as [in, batch·H·W]: channel planes, so filter taps become row shifts.
  const planeSize = batchSize * inHeight * inWidth;
  const xT = backend.makeOutput([inChannels, planeSize], 'float32');
  transposeMatrix(heapF32(backend, x), 0, planeSize, inChannels, heapF32(backend, xT), 0);

  const sum = chunks > 1 ? new Float64Array(k * outChannels) : null;
  let single: TensorInfo | null = null;
  for (let first = 0; first < batchSize; first += imagesPerChunk) {
    const images = Math.min(imagesPerChunk, batchSize - first);
    const pixels = images * pixelsPerImage;
    const colsT = backend.makeOutput([1, k, pixels], 'float32');
    fillColsT(heapF32(backend, xT), heapF32(backend, colsT), info, first, images);
    // The chunk's gradient rows are contiguous in dy.
    const dyChunk = images === batchSize
      ? runStock(backend, 'Reshape', { x: dy }, { shape: [1, pixels, outChannels] })
      : copyRows(backend, dy, first * pixelsPerImage * outChannels, pixels, outChannels);
    const product = runStock(backend, 'BatchMatMul', { a: colsT, b: dyChunk }, { transposeA: false, transposeB: false });
    dispose(backend, dyChunk, colsT);
    if (sum) {
      const pv = heapF32(backend, product);
      for (let i = 0; i < sum.length; i++) sum[i]! += pv[i]!;
      dispose(backend, product);
    } else {
      single = product;
    }
  }
  dispose(backend, xT);
  if (single) {
    const out = runStock(backend, 'Reshape', { x: single }, { shape: [...attrs.filterShape] });
    dispose(backend, single);
    return out;
  }
  const out = backend.makeOutput([...attrs.filterShape], 'float32');
  heapF32(backend, out).set(sum!);
  return out;
}

function copyRows(backend: BackendWasm, t: TensorInfo, offset: number, rows: number, cols: number): TensorInfo {
  const out = backend.makeOutput([1, rows, cols], 'float32');
  heapF32(backend, out).set(heapF32(backend, t).subarray(offset, offset + rows * cols));
  return out;
}

/** colsᵀ[(ky, kx, c), (n, oy, ox)] = x[n, oy·s + ky − padTop, ox·s + kx − padLeft, c], 0 outside. */
function fillColsT(xT: Float32Array, colsT: Float32Array, info: tf.backend_util.Conv2DInfo, firstImage: number, images: number): void {
  const { batchSize, inHeight: h, inWidth: w, inChannels, outHeight: oh, outWidth: ow, filterHeight, filterWidth } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const pixels = images * oh * ow;
  const plane = batchSize * h * w;
  let row = 0;
  for (let ky = 0; ky < filterHeight; ky++) {
    for (let kx = 0; kx < filterWidth; kx++) {
      // Output columns whose input column lies inside the image.
      const oxStart = Math.max(0, Math.ceil((padLeft - kx) / sw));
      const oxEnd = Math.min(ow, Math.floor((w - 1 + padLeft - kx) / sw) + 1);
      for (let c = 0; c < inChannels; c++, row++) {
        const base = row * pixels;
        for (let n = 0; n < images; n++) {
          const imagePlane = c * plane + (firstImage + n) * h * w;
          for (let oy = 0; oy < oh; oy++) {
            const d = base + (n * oh + oy) * ow;
            const iy = oy * sh + ky - padTop;
            if (iy < 0 || iy >= h || oxEnd <= oxStart) { colsT.fill(0, d, d + ow); continue; }
            if (oxStart > 0) colsT.fill(0, d, d + oxStart);
            if (oxEnd < ow) colsT.fill(0, d + oxEnd, d + ow);
            const s = imagePlane + iy * w + oxStart * sw + kx - padLeft;
            const len = oxEnd - oxStart;
            if (sw === 1) {
              if (len > 48) colsT.set(xT.subarray(s, s + len), d + oxStart);
              else for (let i = 0; i < len; i++) colsT[d + oxStart + i] = xT[s + i]!;
            } else {
              for (let i = 0; i < len; i++) colsT[d + oxStart + i] = xT[s + i * sw]!;
            }
          }
        }
      }
    }
  }
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
