// On Swarm a node can be lost between two reclaim passes: the instances it ran are gone (their
// services sit at 0/1, nothing replaces them), yet their records and (node, port)s would wait for
// the next pass, minutes away. The watch looks every few seconds (one shared engine list) and, when
// a running instance's service has exited or vanished, runs a reclaim pass at once: its reconcile
// closes them, frees their ports, audits them and tells their owners, and its ops summary says so.
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Instances } from './instances.ts';
import type { Reclaimer } from './reclaim.ts';

/** How often the watch looks: a node is marked down ~3 s after its daemon dies (with Swarm's
 * 1 s dispatcher heartbeat; ~10 s with the default 5 s). */
export const NODE_WATCH_MS = 5_000;

export interface NodeWatchDeps {
  instances: Pick<Instances, 'observe' | 'launching' | 'stopping'>;
  reclaimer: Pick<Reclaimer, 'run'>;
  log: Logger;
  intervalMs?: number;
}

export class NodeWatch {
  private timer: NodeJS.Timeout | undefined;
  private looking: Promise<void> | undefined;

  constructor(private readonly deps: NodeWatchDeps) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.looking ??= this.look().finally(() => {
        this.looking = undefined;
      });
    }, this.deps.intervalMs ?? NODE_WATCH_MS);
    this.timer.unref();
  }

  /** Stops looking; waits for a look (and the pass it started) in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.looking;
  }

  private async look(): Promise<void> {
    const { instances, reclaimer, log } = this.deps;
    try {
      const lost = (await instances.observe())
        .filter((o) => o.record.state === 'running' && (o.state === 'exited' || o.state === 'missing'))
        .map((o) => o.record.name)
        .filter((name) => !instances.launching.has(name) && !instances.stopping.has(name));
      if (lost.length === 0) return;
      log.info({ instances: lost }, 'instances lost: a reclaim pass closes them now');
      await reclaimer.run({ trigger: 'schedule' });
    } catch (err) {
      // The engine did not answer: the next look (or pass) tries again.
      log.debug({ err: describeError(err) }, 'the node watch could not look');
    }
  }
}
