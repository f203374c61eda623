// OpenCV (the wasm build on npm, @techstark/opencv-js), loaded once per process on first use: the
// field's standard implementations (GrabCut here) instead of hand-written ones.
import { createRequire } from 'node:module';

export type OpenCv = typeof import('@techstark/opencv-js');

let ready: Promise<OpenCv> | null = null;

/** The initialised OpenCV module (its wasm runtime compiled, about 0.3 s the first time). */
export function openCv(): Promise<OpenCv> {
  ready ??= new Promise<OpenCv>((resolve, reject) => {
    // A CommonJS module whose export is either the module or a thenable that settles when the runtime is up.
    const loaded = createRequire(import.meta.url)('@techstark/opencv-js') as OpenCv & { onRuntimeInitialized?: () => void; then?: unknown };
    if (typeof loaded.Mat === 'function') return resolve(loaded);
    if (typeof loaded.then === 'function') {
      (loaded as unknown as PromiseLike<OpenCv>).then((cv) => {
        // Resolving with the thenable itself would recurse; hand on a plain object view.
        const { then: _then, ...plain } = cv as OpenCv & { then?: unknown };
        resolve(plain as OpenCv);
      }, reject);
      return;
    }
    loaded.onRuntimeInitialized = () => resolve(loaded);
  });
  return ready;
}
