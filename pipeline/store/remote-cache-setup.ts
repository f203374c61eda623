// Which remote cache a run uses: pipeline.json's remoteCache, a --remote-cache URL, or none.
import type { PipelineConfig } from '../config/config-types.js';
import type { EventSink } from '../log/events.js';
import { PipelineError } from '../config/errors.js';
import { RemoteCache } from './remote-cache.js';

export function remoteCacheFor(config: PipelineConfig, override: string | false | undefined, emit: EventSink): RemoteCache | undefined {
  if (override === false) return undefined;
  const cfg = override !== undefined ? { ...config.remoteCache, url: override } : config.remoteCache;
  if (!cfg) return undefined;
  try {
    return new RemoteCache(cfg, emit);
  } catch (e) {
    throw new PipelineError(`pipeline.json remoteCache: ${(e as Error).message}`);
  }
}
