// The benchmark harness behind `npm run bench`: the suite registry's types and the shared set-up
// (own scope, own port range, temp store, the demo image built through the core, cleanup before
// and after). The rows suites return, and their statistics, are in bench/rows.ts.
//
// bench/ is not production code: it is the one place besides engine/docker.ts allowed to import
// dockerode, because the baselines it measures against ARE raw dockerode calls.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { type Config, loadConfig } from '../core/config.ts';
import { configuredEngine, createServices, type Services } from '../core/context.ts';
import { LABEL } from '../core/labels.ts';
import type { Actor } from '../core/policy.ts';
import { parseTemplates, type Template, type TemplateSet } from '../core/templates.ts';
import { connect } from '../engine/docker-host.ts';
import { mapLimit } from '../lib/concurrency.ts';
import { tryLock, waitForLock } from '../lib/lock.ts';
import { silentLogger } from '../lib/log.ts';
import type { Bench } from './rows.ts';

export const ROOT = path.resolve(import.meta.dirname, '..');

// ---------------------------------------------------------------------------------------------
// Suites. EXTENSION POINT: a suite is a file exporting a `Suite`; register it in bench/suites.ts.
// ---------------------------------------------------------------------------------------------

export interface Suite {
  /** Short name, used on the command line (`npm run bench -- launch list`) and in the rows. */
  name: string;
  /** One line for `npm run bench -- --list`. */
  description: string;
  /** Needs the demo image and Docker (all current suites do; a pure store suite might not). */
  needsDocker: boolean;
  /** Runs only when named on the command line (`npm run bench -- scale`): too long for every run. */
  onlyWhenNamed?: boolean;
  /** Runs the measurements. Everything it starts in Docker carries the bench scope label, so
   * ctx.cleanup() (called by main.ts after every suite, even a failed one) removes it. */
  run(ctx: BenchContext): Promise<Bench[]>;
}

export interface BenchContext {
  /** The `org.spreadserve.scope` label value of everything the bench creates. */
  scope: string;
  /** The host ports the bench may publish on (on bindIp). */
  ports: { from: number; to: number };
  bindIp: string;
  /** A temp directory for stores and files; removed at the end. */
  dir: string;
  /** The demo template, with the bench's own image tag, already built. */
  template: Template;
  templates: TemplateSet;
  /** The acting admin for core calls. */
  actor: Actor;
  /** Raw dockerode, for baselines only. */
  docker: Docker;
  /** The bench configuration (own store file `<name>-<random>.json` in dir, bench scope, port range,
   * bind IP) with `env` on top, for suites that compose their own services (e.g. the Slack bot). */
  config(name: string, env?: Record<string, string>): Config;
  /** A fresh core (its own store file `<name>.json` in dir) on the bench scope and port range. */
  services(name: string, env?: Record<string, string>): Promise<Services>;
  /** Launches n instances through the core, `concurrency` at a time; returns their names. */
  launchMany(
    services: Services,
    n: number,
    options?: { concurrency?: number; prefix?: string },
  ): Promise<{ names: string[]; wallMs: number }>;
  /** Force-removes every container of the bench scope (bounded concurrency); returns how many. */
  cleanup(): Promise<number>;
  /** Progress on stderr (stdout is for the table). */
  log(line: string): void;
  /** Aborted on Ctrl-C or at the time limit: loops should stop starting new work. */
  signal: AbortSignal;
  /** `--instances N` from the command line, for suites that scale (bench/scale.ts). */
  instances?: number;
  /** `--network-size N`: instances per bridge network in the scale suite, for the core
   * (SPREADSERVE_NETWORK_SIZE) and the raw side alike; absent, the bot's default. */
  networkSize?: number;
  /** `--fill-only`: the scale suite fills the host and checks every URL, and stops there. */
  fillOnly?: boolean;
}

// ---------------------------------------------------------------------------------------------
// The shared set-up main.ts builds once per run.
// ---------------------------------------------------------------------------------------------

export const BENCH_SCOPE = 'bench';
export const BENCH_PORTS = { from: 25000, to: 25199 };
export const BENCH_BIND_IP = '127.0.0.1';
export const BENCH_IMAGE = 'spreadserve-bench/demo:bench';
const TEMP_PREFIX = 'ss-bench-';

export interface BenchEnv {
  ctx: BenchContext;
  /** Builds the demo image through the core (the real build path). */
  buildImage(): Promise<number>;
  /** Removes containers, the image and the temp directory. Safe to call twice. */
  teardown(): Promise<void>;
  /** Aborts ctx.signal: launchMany (and suites that check it) stop starting new work. */
  abort(): void;
  engineInfo(): Promise<Record<string, unknown>>;
}

/** The demo template of spreadserve.templates.yml, with the bench's own image tag. */
export function benchTemplate(): Template {
  const file = path.join(ROOT, 'spreadserve.templates.yml');
  const set = new Map(parseTemplates(readFileSync(file, 'utf8'), ROOT));
  const demo = set.get('demo');
  if (!demo) throw new Error(`${file} has no demo template`);
  return { ...demo, image: BENCH_IMAGE };
}

/** Temp directories of earlier runs that were killed before their cleanup (older than an hour). */
function removeStaleTempDirs(): void {
  const tmp = os.tmpdir();
  for (const entry of readdirSync(tmp)) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const full = path.join(tmp, entry);
    try {
      if (Date.now() - statSync(full).mtimeMs > 3_600_000) rmSync(full, { recursive: true, force: true });
    } catch {
      // someone else's or already gone
    }
  }
}

/**
 * Takes the machine-wide bench lock (a pid file in the temp directory), waiting up to waitMs for
 * another live run to finish; a lock left by a dead process is taken over. Released at exit.
 */
export async function acquireBenchLock(log: (line: string) => void, waitMs: number): Promise<void> {
  const file = path.join(os.tmpdir(), 'spreadserve-bench.lock');
  const holder = tryLock(file);
  if (holder === null) return;
  log(`another bench run (pid ${holder}) is going (same scope and ports): waiting for it`);
  await waitForLock(file, waitMs, 2_000);
}

export function createBenchEnv(
  env: Record<string, string | undefined>,
  options: { instances?: number; networkSize?: number; fillOnly?: boolean; startTimeoutMs?: number } = {},
): BenchEnv {
  const dockerHost = env.DOCKER_HOST;
  const docker = new Docker(connect({ dockerHost }).modem);
  removeStaleTempDirs();
  const dir = mkdtempSync(path.join(os.tmpdir(), TEMP_PREFIX));
  const demo = benchTemplate();
  const template = options.startTimeoutMs ? { ...demo, startTimeoutMs: options.startTimeoutMs } : demo;
  const templates: TemplateSet = new Map([['demo', template]]);
  const actor: Actor = { id: 'cli:bench', role: 'admin' };
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const aborter = new AbortController();

  const config = (name: string, extra: Record<string, string> = {}): Config =>
    loadConfig({
      SPREADSERVE_DATA: path.join(dir, `${name}-${randomBytes(3).toString('hex')}.json`),
      SPREADSERVE_PORTS: `${BENCH_PORTS.from}-${BENCH_PORTS.to}`,
      SPREADSERVE_BIND_IP: BENCH_BIND_IP,
      SPREADSERVE_PUBLIC_URL: `http://${BENCH_BIND_IP}`,
      SPREADSERVE_SCOPE: BENCH_SCOPE,
      MAX_INSTANCES_PER_USER: '0',
      LOG_LEVEL: 'silent',
      DOCKER_HOST: dockerHost,
      ...extra,
    });

  const services = async (name: string, extra?: Record<string, string>): Promise<Services> => {
    const c = config(name, extra);
    return createServices(c, {
      // The engine the configuration names: one Docker engine, or a swarm (bench/swarm.ts).
      engine: configuredEngine(c),
      log: silentLogger(),
      templates,
    });
  };

  const cleanup = async (): Promise<number> => {
    const rows = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL.scope}=${BENCH_SCOPE}`] },
    });
    await mapLimit(rows, 8, async (row) => {
      try {
        await docker.getContainer(row.Id).remove({ force: true });
      } catch (err) {
        // Already gone (404) or being removed (409) is fine.
        const code = (err as { statusCode?: number }).statusCode;
        if (code !== 404 && code !== 409) throw err;
      }
    });
    return rows.length;
  };

  const launchMany: BenchContext['launchMany'] = async (svc, n, options = {}) => {
    const { concurrency = 4, prefix = 'many' } = options;
    const names = Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
    const t0 = performance.now();
    let done = 0;
    await mapLimit(names, concurrency, async (name) => {
      aborter.signal.throwIfAborted();
      await svc.instances.launch({ actor, template: 'demo', name });
      done++;
      if (done % 25 === 0 || done === n) log(`  launched ${done}/${n}`);
    });
    return { names, wallMs: performance.now() - t0 };
  };

  const removeImage = async () => {
    try {
      await docker.getImage(BENCH_IMAGE).remove({ force: true });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  };

  let tornDown = false;
  return {
    ctx: {
      scope: BENCH_SCOPE,
      ports: BENCH_PORTS,
      bindIp: BENCH_BIND_IP,
      dir,
      template,
      templates,
      actor,
      docker,
      config,
      services,
      launchMany,
      cleanup,
      log,
      signal: aborter.signal,
      instances: options.instances,
      networkSize: options.networkSize,
      fillOnly: options.fillOnly,
    },
    abort: () => aborter.abort(new Error('the bench was stopped')),
    async buildImage() {
      await removeImage();
      const svc = await services('build');
      const t0 = performance.now();
      await svc.builds.build({ actor, template: 'demo' });
      return performance.now() - t0;
    },
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      try {
        const removed = await cleanup();
        if (removed > 0) log(`removed ${removed} leftover container(s)`);
        await removeImage();
        // The instances' bridge networks the core (and the raw launches) made for the bench scope.
        const networks = await docker.listNetworks({ filters: { label: [`${LABEL.scope}=${BENCH_SCOPE}`] } });
        for (const n of networks) {
          await docker
            .getNetwork(n.Id)
            .remove()
            .catch((err: unknown) => log(`could not remove the network ${n.Name}: ${String(err)}`));
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async engineInfo() {
      const [version, info] = await Promise.all([docker.version(), docker.info()]);
      const v = version as unknown as Record<string, unknown>;
      const i = info as Record<string, unknown>;
      return {
        version: v.Version,
        apiVersion: v.ApiVersion,
        os: v.Os,
        kernel: v.KernelVersion,
        cgroupVersion: i.CgroupVersion,
        cpus: i.NCPU,
        memoryBytes: i.MemTotal,
        storageDriver: i.Driver,
      };
    },
  };
}
