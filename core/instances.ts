// Instances: the launch saga, stop, list. The store says who owns what and which ports are
// handed out; Docker says what runs. Every store change goes through store.update.
import { randomBytes } from 'node:crypto';
import type { ContainerEngine } from '../engine/types.ts';
import type { Clock } from '../lib/clock.ts';
import { formatDuration } from '../lib/duration.ts';
import { describeError, UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { AuditEntry, InstanceRecord, StoreDoc } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { audit } from './audit.ts';
import type { Config } from './config.ts';
import { waitForHttp } from './http-probe.ts';
import {
  byInstance,
  containerName,
  instanceLabels,
  LABEL,
  managedFilter,
  NAME_HINT,
  NAME_RE,
} from './labels.ts';
import { type Actor, requireOwnerOrAdmin, requireUser } from './policy.ts';
import type { PortPool } from './port-pool.ts';
import { findTemplate, type Template, type TemplateSet } from './templates.ts';

/** How many other pool ports a launch tries when Docker finds a port held by another process. */
const PORT_RETRIES = 5;

export interface InstanceDeps {
  store: Store;
  engine: ContainerEngine;
  pool: PortPool;
  templates: TemplateSet;
  config: Pick<Config, 'scope' | 'bindIp' | 'publicUrl' | 'maxInstancesPerUser' | 'reclaim'>;
  clock: Clock;
  log: Logger;
}

export interface LaunchRequest {
  actor: Actor;
  template?: string;
  name?: string;
  ttlMs?: number;
  onProgress?: (line: string) => void;
}

export type ObservedState = 'starting' | 'running' | 'exited' | 'missing';

export interface ObservedInstance {
  record: InstanceRecord;
  state: ObservedState;
  url: string;
}

/**
 * Inside a store update: drops an instance's record and frees its port (the container is gone),
 * audited when `why` is given. A record already gone is left alone.
 */
export function closeRecord(
  doc: StoreDoc,
  pool: PortPool,
  name: string,
  why?: Pick<AuditEntry, 'at' | 'actor' | 'action' | 'reason'>,
): void {
  const record = doc.instances[name];
  if (!record) return;
  pool.release(doc, record.port, name);
  delete doc.instances[name];
  if (why) {
    const { at, actor, action, reason } = why;
    audit(doc, { at, actor, action, instance: name, template: record.template, reason });
  }
}

export class Instances {
  /** Launches in flight in this process: reconcile leaves their records alone. */
  readonly launching = new Set<string>();

  constructor(private readonly deps: InstanceDeps) {}

  url(port: number): string {
    return `${this.deps.config.publicUrl}:${port}`;
  }

  /** Where the bot itself probes a published port. */
  private probeUrl(port: number, path: string): string {
    const ip = this.deps.config.bindIp;
    const host = ip === '0.0.0.0' ? '127.0.0.1' : ip === '::' ? '[::1]' : ip.includes(':') ? `[${ip}]` : ip;
    return `http://${host}:${port}${path}`;
  }

  get(name: string): InstanceRecord {
    const record = this.deps.store.read().instances[name];
    if (!record) {
      throw new UserError(
        'not-found',
        `There is no instance named ${name}; type \`list\` to see the instances.`,
      );
    }
    return record;
  }

  async launch(request: LaunchRequest): Promise<InstanceRecord> {
    const { store, engine, pool, clock, config } = this.deps;
    requireUser(request.actor, 'launch instances');
    store.assertWritable(); // before any Docker call: nothing could be recorded
    const template = findTemplate(this.deps.templates, request.template);
    if (request.name !== undefined && !NAME_RE.test(request.name)) {
      throw new UserError('usage', `"${request.name}" is not a valid name: ${NAME_HINT}.`);
    }
    const image = await engine.inspectImage(template.image); // also proves the engine answers before any store change
    if (!image) {
      throw new UserError(
        'not-found',
        `The image ${template.image} of template ${template.name} is not built yet; an admin can type \`build ${template.name}\`.`,
      );
    }
    const owner = request.actor.id;
    const now = clock.now();
    const ttlMs = request.ttlMs ?? config.reclaim.maxLifetimeMs;
    const { name, port } = await store.update((doc) => {
      const name = request.name ?? this.freeName(doc, template.name);
      if (doc.instances[name]) {
        throw new UserError('conflict', `The name ${name} is taken; choose another with --name.`);
      }
      const limit = config.maxInstancesPerUser;
      const owned = Object.values(doc.instances).filter((i) => i.owner === owner).length;
      if (limit > 0 && owned >= limit && request.actor.role !== 'admin') {
        throw new UserError('quota', `You already run ${owned} of your ${limit} instances; stop one first.`);
      }
      const port = pool.reserve(doc, name, now);
      doc.instances[name] = {
        name,
        owner,
        template: template.name,
        port,
        state: 'starting',
        createdAt: now,
        lastActivityAt: now,
        expiresAt: ttlMs === undefined ? undefined : now + ttlMs,
      };
      return { name, port };
    });
    this.launching.add(name);
    try {
      return await this.startContainer(name, template, port, owner, request.onProgress);
    } finally {
      this.launching.delete(name);
    }
  }

  private freeName(doc: StoreDoc, template: string): string {
    for (let i = 0; i < 20; i++) {
      const name = `${template.slice(0, 34)}-${randomBytes(2).toString('hex')}`;
      if (!doc.instances[name]) return name;
    }
    throw new UserError('conflict', 'Could not find a free name; choose one with --name.');
  }

  /** Create, start, wait for health; on any failure the container is removed and the port freed. */
  private async startContainer(
    name: string,
    template: Template,
    firstPort: number,
    owner: string,
    onProgress?: (line: string) => void,
  ): Promise<InstanceRecord> {
    const { store, engine, pool, clock, config, log } = this.deps;
    let port = firstPort;
    let containerId: string | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          containerId = await engine.createAndStart({
            name: containerName(name),
            image: template.image,
            labels: instanceLabels({
              scope: config.scope,
              instance: name,
              owner,
              template: template.name,
              port,
            }),
            env: { ...template.env, SS_OWNER: owner, SS_INSTANCE: name },
            command: template.command,
            containerPort: template.containerPort,
            hostPort: port,
            bindIp: config.bindIp,
            memoryBytes: template.memoryBytes,
            nanoCpus: template.nanoCpus,
          });
          break;
        } catch (err) {
          if (!(err instanceof UserError && err.kind === 'port-taken') || attempt >= PORT_RETRIES) throw err;
          const taken = port;
          port = await store.update((doc) => {
            pool.setAside(doc, taken, 'held by another process', clock.now());
            audit(doc, {
              at: clock.now(),
              actor: owner,
              action: 'set-aside',
              instance: name,
              reason: `port ${taken}`,
            });
            const next = pool.reserve(doc, name, clock.now());
            const record = doc.instances[name];
            if (record) record.port = next;
            return next;
          });
          log.warn(
            { instance: name, port: taken, next: port },
            'host port held by another process; set aside',
          );
          onProgress?.(`Port ${taken} is held by another process; trying ${port}.`);
        }
      }
      onProgress?.(`Container started on port ${port}; waiting for ${template.healthPath} to answer.`);
      const id = containerId;
      const healthy = await waitForHttp(this.probeUrl(port, template.healthPath), {
        timeoutMs: template.startTimeoutMs,
        stillAlive: async () => {
          const details = await engine.inspect(id);
          if (details?.state !== 'running') {
            const code = details?.exitCode ?? 'unknown';
            throw new UserError(
              'unhealthy',
              `${name} exited with code ${code} while starting; it was removed and its port freed.`,
              await this.tail(id),
            );
          }
        },
      });
      if (!healthy) {
        throw new UserError(
          'unhealthy',
          `${name} did not answer on ${template.healthPath} within ${formatDuration(template.startTimeoutMs)}; it was removed and its port freed.`,
          await this.tail(id),
        );
      }
      return await store.update((doc) => {
        const record = doc.instances[name];
        if (!record) throw new UserError('conflict', `${name} was stopped while it was starting.`);
        record.state = 'running';
        record.containerId = id;
        record.lastActivityAt = clock.now();
        pool.markInUse(doc, port, name, clock.now());
        audit(doc, {
          at: clock.now(),
          actor: owner,
          action: 'launch',
          instance: name,
          template: template.name,
        });
        return record;
      });
    } catch (err) {
      await this.abandon(name, containerId, err);
      throw err;
    }
  }

  private async tail(containerId: string): Promise<string[]> {
    try {
      return await this.deps.engine.logs(containerId, 20);
    } catch {
      return [];
    }
  }

  /** Undo a failed launch: container removed, record closed, port freed. Best effort, logged. */
  private async abandon(name: string, containerId: string | undefined, cause: unknown): Promise<void> {
    const { store, pool, log } = this.deps;
    try {
      await this.removeContainer(name, containerId);
    } catch (err) {
      log.error(
        { instance: name, err: describeError(err) },
        'could not remove the container of a failed launch',
      );
    }
    try {
      await store.update((doc) => {
        closeRecord(doc, pool, name);
      });
    } catch (err) {
      log.error({ instance: name, err: describeError(err) }, 'could not close the record of a failed launch');
    }
    log.info({ instance: name, cause: describeError(cause) }, 'launch abandoned');
  }

  /**
   * Removes the instance's container: by id when known, else only containers carrying this
   * scope's labels for `name`. Never by bare name: `spreadserve-<name>` may belong to another
   * bot on the same host (a launch refused because that name exists must not remove it).
   */
  private async removeContainer(name: string, containerId: string | undefined): Promise<void> {
    const { engine, config } = this.deps;
    if (containerId !== undefined) return engine.remove(containerId);
    const ours = await engine.list({ ...managedFilter(config.scope), [LABEL.instance]: name });
    for (const c of ours) await engine.remove(c.id);
  }

  /** Stops and removes the container, then closes the record and frees the port. The reclaim
   * pass stops through here too, audited as action 'reclaim'. */
  async stop(
    actor: Actor,
    name: string,
    reason = 'stopped by its owner or an admin',
    action: 'stop' | 'reclaim' = 'stop',
  ): Promise<InstanceRecord> {
    const { store, pool, clock } = this.deps;
    const record = this.get(name);
    requireOwnerOrAdmin(actor, record.owner, name, 'stop');
    store.assertWritable();
    await this.removeContainer(name, record.containerId);
    await store.update((doc) => {
      closeRecord(doc, pool, name, { at: clock.now(), actor: actor.id, action, reason });
    });
    return record;
  }

  /** Marks an instance active now, postpones its idle reclaim and cancels a pending warning. */
  async extend(
    actor: Actor,
    name: string,
    ms: number,
    reason = 'kept by its owner or an admin',
  ): Promise<InstanceRecord> {
    const { store, clock } = this.deps;
    requireOwnerOrAdmin(actor, this.get(name).owner, name, 'extend');
    return store.update((doc) => {
      const record = doc.instances[name];
      if (!record) throw new UserError('not-found', `${name} was stopped meanwhile.`);
      const now = clock.now();
      record.lastActivityAt = now;
      record.keepUntil = Math.max(record.keepUntil ?? 0, now + ms);
      // A TTL is a hard limit the owner chose; an extend moves it as far as the keep.
      if (record.expiresAt !== undefined) record.expiresAt = Math.max(record.expiresAt, now + ms);
      record.warning = undefined;
      audit(doc, {
        at: now,
        actor: actor.id,
        action: 'extend',
        instance: name,
        reason: `${reason} for ${formatDuration(ms)}`,
      });
      return record;
    });
  }

  /** The store's instances with Docker's view of each, from one engine call. */
  async observe(): Promise<ObservedInstance[]> {
    const byName = byInstance(await this.deps.engine.list(managedFilter(this.deps.config.scope)));
    return Object.values(this.deps.store.read().instances).map((record) => {
      const container = byName.get(record.name);
      const state: ObservedState =
        record.state === 'starting'
          ? 'starting'
          : !container
            ? 'missing'
            : container.state === 'running'
              ? 'running'
              : 'exited';
      return { record, state, url: this.url(record.port) };
    });
  }
}
