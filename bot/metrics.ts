// Prometheus metrics for GET /metrics: commands, launches, stops, ports, instances, Docker latency.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Services } from '../core/context.ts';
import type { ContainerEngine } from '../engine/types.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly commands = new Counter({
    name: 'spreadserve_commands_total',
    help: 'Commands run, by name and outcome',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly launches = new Counter({
    name: 'spreadserve_launches_total',
    help: 'Instances launched',
    registers: [this.registry],
  });
  readonly stops = new Counter({
    name: 'spreadserve_stops_total',
    help: 'Instances stopped by a person',
    registers: [this.registry],
  });
  readonly dockerCalls = new Histogram({
    name: 'spreadserve_docker_call_seconds',
    help: 'Docker Engine API call latency, by method',
    labelNames: ['method', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor(services: () => Services | undefined) {
    const doc = () => services()?.store.read();
    new Gauge({
      name: 'spreadserve_instances',
      help: 'Open instances',
      registers: [this.registry],
      collect() {
        const d = doc();
        if (d) this.set(Object.keys(d.instances).length);
      },
    });
    new Gauge({
      name: 'spreadserve_ports',
      help: 'Pool ports by state',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const s = services();
        if (!s) return;
        const c = s.pool.counts(s.store.read());
        this.set({ state: 'free' }, c.free);
        this.set({ state: 'reserved' }, c.reserved);
        this.set({ state: 'in_use' }, c.inUse);
        this.set({ state: 'set_aside' }, c.setAside.length);
      },
    });
  }

  /** The same engine, timing every call. */
  instrument(engine: ContainerEngine): ContainerEngine {
    const histogram = this.dockerCalls;
    return new Proxy(engine, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const end = histogram.startTimer({ method: String(prop) });
          try {
            const result: unknown = await value.apply(target, args);
            end({ outcome: 'ok' });
            return result;
          } catch (err) {
            end({ outcome: 'error' });
            throw err;
          }
        };
      },
    });
  }
}
