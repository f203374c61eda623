// Resource slots: `-j` CPU job slots and the GPU devices. A grant names the devices it got.

export interface Grant {
  cpu: number;
  gpus: string[];
  release(): void;
}

interface Waiter {
  cpu: number;
  gpu: number;
  priority: number;
  seq: number;
  resolve: (g: Grant) => void;
}

export class Slots {
  private freeCpu: number;
  private freeGpus: string[];
  private queue: Waiter[] = [];
  private arrivals = 0;

  constructor(readonly cpu: number, readonly gpus: string[]) {
    this.freeCpu = cpu;
    this.freeGpus = [...gpus];
  }

  /**
   * Waits for `cpu` job slots and `gpu` devices (both capped at what exists, so nothing waits forever).
   * Waiters are served highest `priority` first (critical-path.ts), equal ones in order of arrival.
   */
  acquire(cpu: number, gpu: number, priority = 0): Promise<Grant> {
    const want = { cpu: Math.min(Math.max(1, cpu), this.cpu), gpu: Math.min(gpu, this.gpus.length) };
    return new Promise((resolve) => {
      this.queue.push({ ...want, priority, seq: this.arrivals++, resolve });
      this.queue.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
      this.pump();
    });
  }

  /** Takes up to `max` extra CPU slots that are free right now (for data-parallel workers). */
  tryAcquireExtra(max: number): Grant {
    const n = Math.min(max, this.freeCpu);
    this.freeCpu -= n;
    let released = false;
    return { cpu: n, gpus: [], release: () => { if (!released) { released = true; this.freeCpu += n; this.pump(); } } };
  }

  private pump(): void {
    for (let i = 0; i < this.queue.length; ) {
      const w = this.queue[i]!;
      if (w.cpu <= this.freeCpu && w.gpu <= this.freeGpus.length) {
        this.queue.splice(i, 1);
        this.freeCpu -= w.cpu;
        const gpus = this.freeGpus.splice(0, w.gpu);
        let released = false;
        w.resolve({
          cpu: w.cpu,
          gpus,
          release: () => {
            if (released) return;
            released = true;
            this.freeCpu += w.cpu;
            this.freeGpus.push(...gpus);
            this.freeGpus.sort();
            this.pump();
          },
        });
      } else i++;
    }
  }
}
