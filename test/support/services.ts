// Real core services for a test file: its own store on a temp file, its own port range and
// scope (the label cleanup keys on), the real Docker engine and the real demo template.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Config, loadConfig } from '../../core/config.ts';
import { createServices, dockerConnection, type Services } from '../../core/context.ts';
import { LABEL } from '../../core/labels.ts';
import type { Notifier } from '../../core/notifier.ts';
import type { GroupDirectory } from '../../core/policy.ts';
import { parseTemplates, type Template, type TemplateSet } from '../../core/templates.ts';
import { DockerEngine } from '../../engine/docker.ts';
import type { ContainerEngine } from '../../engine/types.ts';
import type { Clock } from '../../lib/clock.ts';
import { type Logger, silentLogger } from '../../lib/log.ts';
import { removeByLabel, removeImages, requireDocker, scopeContainers } from './docker.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export function tempDir(prefix = 'ss-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The project's real templates file's Linux templates, with each image tag renamed for this test file. */
export function realTemplates(
  tagSuffix: string,
  extra: Record<string, Partial<Template>> = {},
): Map<string, Template> {
  const file = path.join(ROOT, 'spreadserve.templates.yml');
  const set = new Map(parseTemplates(readFileSync(file, 'utf8'), ROOT));
  // The engine under test runs Linux: a template that needs a Windows host is left out.
  for (const [name, t] of set) {
    if (t.platform === 'linux') set.set(name, { ...t, image: `spreadserve-test/${name}:${tagSuffix}` });
    else set.delete(name);
  }
  for (const [name, t] of Object.entries(extra)) {
    const base = set.get('demo')!;
    set.set(name, { ...base, ...t, name });
  }
  return set;
}

export interface TestBed {
  services: Services;
  config: Config;
  dir: string;
  scope: string;
  /** Removes this file's containers and images. */
  cleanup(): Promise<void>;
}

export interface TestBedOptions {
  /** Unique per test file: scopes the containers and names the images. */
  scope: string;
  /** This file's own port range, never the defaults. */
  ports: string;
  templates?: TemplateSet;
  env?: Record<string, string>;
  engine?: ContainerEngine;
  groups?: GroupDirectory;
  dataFile?: string;
  /** Where the core services log; silent when absent. */
  log?: Logger;
  /** A ManualClock for reclaim tests; the system clock when absent. */
  clock?: Clock;
  /** Where reclaim warnings and summaries go; the log when absent. */
  notifier?: Notifier;
}

export function testConfig(options: Pick<TestBedOptions, 'scope' | 'ports' | 'env'>, dir: string): Config {
  return loadConfig({
    SPREADSERVE_DATA: path.join(dir, 'store.json'),
    SPREADSERVE_PORTS: options.ports,
    SPREADSERVE_BIND_IP: '127.0.0.1',
    SPREADSERVE_PUBLIC_URL: 'http://127.0.0.1',
    SPREADSERVE_SCOPE: options.scope,
    LOG_LEVEL: 'silent',
    // Tests share a 2-core machine with other Docker work: a quick call may take longer than
    // production's 10 s there. Tests of the bound itself set their own engine timeouts.
    DOCKER_CALL_TIMEOUT: '30s',
    ...options.env,
  });
}

/**
 * A test file's scope made ready: Docker required (failing loudly without it), a temp dir, the
 * configuration, the templates, and what an interrupted earlier run left removed.
 */
export async function prepareScope(
  options: Pick<TestBedOptions, 'scope' | 'ports' | 'env' | 'templates' | 'dataFile'>,
  dir = tempDir(),
): Promise<Omit<TestBed, 'services'> & { templates: TemplateSet }> {
  await requireDocker();
  const config = testConfig(options, dir);
  if (options.dataFile) config.dataFile = options.dataFile;
  const templates = options.templates ?? realTemplates(options.scope);
  const cleanup = async () => {
    await removeByLabel({ [LABEL.scope]: options.scope });
    await removeImages(...[...templates.values()].map((t) => t.image));
  };
  await removeByLabel({ [LABEL.scope]: options.scope }); // an interrupted earlier run may have left some
  return { config, dir, scope: options.scope, templates, cleanup };
}

export async function testBed(options: TestBedOptions): Promise<TestBed> {
  const { templates, ...bed } = await prepareScope(options);
  const services = await createServices(bed.config, {
    engine: options.engine ?? new DockerEngine(dockerConnection(bed.config)),
    log: options.log ?? silentLogger(),
    templates,
    groups: options.groups,
    clock: options.clock,
    notifier: options.notifier,
  });
  return {
    ...bed,
    services,
    // At the end: the services stopped, the scope's containers and images removed, the temp dir too.
    async cleanup() {
      await services.stop();
      await bed.cleanup();
      rmSync(bed.dir, { recursive: true, force: true });
    },
  };
}

/** Builds a template's image through the real build path, as an admin. */
export async function buildImage(services: Services, template = 'demo'): Promise<void> {
  await services.builds.build({ actor: { id: 'cli:test', role: 'admin' }, template });
}

export const admin = { id: 'UADMIN', role: 'admin' as const };
export const alice = { id: 'UALICE', role: 'user' as const };
export const bob = { id: 'UBOB', role: 'user' as const };

/** What the store and Docker hold for a scope, to check that a refusal left nothing behind. */
export function leftovers(services: Services, scope: string) {
  const doc = services.store.read();
  return {
    instances: Object.keys(doc.instances).sort(),
    ports: JSON.stringify(doc.ports),
    containers: scopeContainers(scope).length,
  };
}
