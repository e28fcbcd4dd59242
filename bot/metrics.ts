// Prometheus metrics for GET /metrics: commands, launches, stops, ports, instances, Docker latency.
// Docker calls are timed from the first one on (DockerCallTimer wraps the engine before the core
// exists); the rest is registered once the core is built (Metrics).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Services } from '../core/context.ts';

/** Times every call of an object's async methods (the engine) into one histogram. */
export class DockerCallTimer {
  readonly histogram = new Histogram({
    name: 'spreadserve_docker_call_seconds',
    help: 'Docker Engine API call latency, by method',
    labelNames: ['method', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [],
  });

  /** The same engine, timing every call. */
  instrument<T extends object>(engine: T): T {
    const histogram = this.histogram;
    return new Proxy(engine, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        // Only calls that answer with a promise are engine calls; a synchronous answer (canSample)
        // is passed through as it is, untimed.
        return (...args: unknown[]) => {
          const end = histogram.startTimer({ method: String(prop) });
          let result: unknown;
          try {
            result = value.apply(target, args);
          } catch (err) {
            end({ outcome: 'error' });
            throw err;
          }
          if (!(result instanceof Promise)) return result;
          return result.then(
            (answer: unknown) => {
              end({ outcome: 'ok' });
              return answer;
            },
            (err: unknown) => {
              end({ outcome: 'error' });
              throw err;
            },
          );
        };
      },
    });
  }
}

export class Metrics {
  readonly registry = new Registry();
  readonly commands = new Counter({
    name: 'spreadserve_commands_total',
    help: 'Commands run, by name and outcome',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
  });
  /** The counters a command names in its `counter` trait. */
  readonly counters = {
    launches: new Counter({
      name: 'spreadserve_launches_total',
      help: 'Instances launched',
      registers: [this.registry],
    }),
    stops: new Counter({
      name: 'spreadserve_stops_total',
      help: 'Instances stopped by a person',
      registers: [this.registry],
    }),
  };

  constructor(services: Pick<Services, 'store' | 'pool'>, timer: DockerCallTimer) {
    this.registry.registerMetric(timer.histogram);
    new Gauge({
      name: 'spreadserve_instances',
      help: 'Open instances',
      registers: [this.registry],
      collect() {
        this.set(Object.keys(services.store.read().instances).length);
      },
    });
    new Gauge({
      name: 'spreadserve_ports',
      help: 'Pool ports by state',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const c = services.pool.counts(services.store.read());
        this.set({ state: 'free' }, c.free);
        this.set({ state: 'reserved' }, c.reserved);
        this.set({ state: 'in_use' }, c.inUse);
        this.set({ state: 'set_aside' }, c.setAside.length);
      },
    });
  }
}
