// Registers leukopipe's kernels on the wasm backend: the gradients stock wasm lacks (without them
// `model.fit` of any conv net throws) and faster versions of stock kernels that are slow loops.
import * as tf from '@tensorflow/tfjs';
import { captureStockKernel } from './wasm-kernel-utils.js';
import { conv2DBackpropFilterConfig } from './kernels/conv2d-backprop-filter.js';
import { conv2DBackpropInputConfig } from './kernels/conv2d-backprop-input.js';
import { depthwiseBackpropFilterConfig } from './kernels/depthwise-backprop-filter.js';
import { depthwiseBackpropInputConfig } from './kernels/depthwise-backprop-input.js';
import { unsortedSegmentSumConfig } from './kernels/unsorted-segment-sum.js';
import { tileConfig } from './kernels/tile.js';
import { batchMatMulConfig, fusedMatMulConfig } from './kernels/batch-mat-mul.js';
import { conv2DConfig, fusedConv2DConfig } from './kernels/conv-as-gemm.js';
import { meanConfig, sumConfig } from './kernels/reduce-leading-axes.js';
import { maxPoolGradConfig } from './kernels/max-pool-grad.js';
import { identityConfig } from './kernels/identity.js';
import { fusedBatchNormConfig } from './kernels/fused-batch-norm.js';
import { broadcastBinaryConfigs } from './kernels/broadcast-binary.js';
import { maskOpConfigs } from './kernels/mask-ops.js';
import { adamUpdateConfig } from './kernels/adam-update.js';
import { castConfig } from './kernels/cast.js';
import { sliceConfig } from './kernels/slice.js';
import { fusedGradientKernelConfigs } from './kernels/fused-gradient-kernels.js';
import { batchNormTrainingKernelConfigs } from './kernels/batch-norm-training.js';
import { installFusedGradients } from './fused-gradients.js';
import { installBatchNormTraining } from './batch-norm-training-layer.js';

/** Kernels stock wasm does not have. */
const MISSING: tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  unsortedSegmentSumConfig,
];

/** Stock kernels replaced because they are slow. */
const FASTER: tf.KernelConfig[] = [
  conv2DConfig,
  fusedConv2DConfig,
  conv2DBackpropInputConfig,
  tileConfig,
  batchMatMulConfig,
  fusedMatMulConfig,
  sumConfig,
  meanConfig,
  maxPoolGradConfig,
  identityConfig,
  fusedBatchNormConfig,
  ...broadcastBinaryConfigs,
  ...maskOpConfigs,
  castConfig,
  sliceConfig,
  // Not tfjs kernels: fused-gradients.ts calls them from the gradients it installs.
  ...fusedGradientKernelConfigs,
  // Not tfjs kernels: batch-norm-training-layer.ts runs them for BatchNormalization in training mode.
  ...batchNormTrainingKernelConfigs,
  // Not a tfjs kernel: fused-adam-optimizer.ts calls it in place of tfjs's ten per variable.
  adamUpdateConfig,
];

let registered: string[] | null = null;

/** Idempotent; returns the kernel names now served by leukopipe code. */
export function registerWasmTrainingKernels(which: 'all' | 'missing' = 'all'): string[] {
  if (registered) return registered;
  // The stock kernels our replacements call (and may replace) are captured first.
  for (const name of ['Conv2D', 'DepthwiseConv2dNative', 'BatchMatMul', 'Transpose', 'Reshape', 'Slice', 'Sum', 'Tile', 'Conv2DBackpropInput', '_FusedMatMul', 'Mean', 'MaxPoolGrad', 'FusedBatchNorm', 'Identity', 'FusedDepthwiseConv2D', 'FusedConv2D', 'PadV2', 'Multiply', 'Add', 'Sub', 'RealDiv', 'GreaterEqual', 'LessEqual', 'Greater', 'Less', 'LogicalAnd', 'Select', 'Cast']) {
    captureStockKernel(name);
  }
  const configs = which === 'all' ? [...MISSING, ...FASTER] : MISSING;
  for (const config of configs) {
    const stockConfig = tf.getKernel(config.kernelName, 'wasm');
    if (stockConfig) tf.unregisterKernel(config.kernelName, 'wasm');
    // A replaced kernel keeps the stock setup (it binds the wasm function our version may call).
    tf.registerKernel({ ...config, setupFunc: stockConfig?.setupFunc });
  }
  if (which === 'all') {
    installFusedGradients();
    installBatchNormTraining();
  }
  registered = configs.map((c) => c.kernelName);
  return registered;
}
