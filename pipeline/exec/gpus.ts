// GPU discovery: `--gpus` wins; otherwise `nvidia-smi -L` (one line per device) when on PATH.
import { execFileSync } from 'node:child_process';

/** `--gpus 2` → ['0','1']; `--gpus 1,3` → ['1','3']; `--gpus 0` → none. */
export function parseGpuFlag(flag: string): string[] {
  if (/^\d+$/.test(flag)) return Array.from({ length: Number(flag) }, (_, i) => String(i));
  return flag.split(',').map((s) => s.trim()).filter(Boolean);
}

export function detectGpus(env: NodeJS.ProcessEnv = process.env): string[] {
  try {
    const out = execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    return out
      .split('\n')
      .map((l) => /^GPU (\d+):/.exec(l.trim())?.[1])
      .filter((x): x is string => x !== undefined);
  } catch {
    return [];
  }
}
