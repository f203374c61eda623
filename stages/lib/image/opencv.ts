// OpenCV (the wasm build on npm, @techstark/opencv-js), loaded once per process on first use: the
// field's standard implementations (GrabCut here) instead of hand-written ones.
import { createRequire } from 'node:module';

export type OpenCv = typeof import('@techstark/opencv-js');

let ready: Promise<OpenCv> | null = null;

/** The initialised OpenCV module (its wasm runtime compiled, about 0.3 s the first time). */
export function openCv(): Promise<OpenCv> {
  // The package exports an Emscripten module: a thenable that settles with itself once the runtime is up.
  // Resolving a promise with it would wait on its `then` forever, so the value is handed on without it.
  ready ??= new Promise<OpenCv>((resolve, reject) => {
    const loading = createRequire(import.meta.url)('@techstark/opencv-js') as PromiseLike<OpenCv & { then?: unknown }>;
    loading.then(({ then: _then, ...cv }) => resolve(cv as OpenCv), reject);
  });
  return ready;
}
