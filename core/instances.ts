// Instances: launch (its reservation is core/reservation.ts, its container half core/launch.ts),
// stop, extend, logs, list. The store says who owns what and which ports are handed out; Docker
// says what runs. Every store change goes through store.update.
import type { ContainerEngine, ContainerSummary } from '../engine/types.ts';
import type { Clock } from '../lib/clock.ts';
import { formatDuration } from '../lib/duration.ts';
import { UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { isPrototypeKey, own } from '../lib/own.ts';
import { SingleFlight } from '../lib/single-flight.ts';
import type { InstanceRecord } from '../store/schema.ts';
import type { ReadonlyDoc, Store } from '../store/store.ts';
import { audit } from './audit.ts';
import type { Config } from './config.ts';
import { type GiveResult, giveInstance } from './handoff.ts';
import { byInstance, managedFilter, NAME_HINT, NAME_RE } from './labels.ts';
import { LaunchSaga } from './launch.ts';
import type { Notifier } from './notifier.ts';
import { type Actor, requireOwnerOrAdmin, requireUser } from './policy.ts';
import type { PortPool } from './port-pool.ts';
import { closeRecord } from './records.ts';
import { reserveLaunch } from './reservation.ts';
import {
  assertRunsOn,
  findTemplate,
  limitName,
  policyFor,
  type Template,
  type TemplateSet,
} from './templates.ts';

export type { InstanceRecord };

export interface InstanceDeps {
  store: Store;
  engine: ContainerEngine;
  pool: PortPool;
  templates: TemplateSet;
  config: Pick<
    Config,
    'scope' | 'bindIp' | 'publicUrl' | 'maxInstancesPerUser' | 'reclaim' | 'networkSize' | 'placement'
  >;
  clock: Clock;
  log: Logger;
  /** Tells both owners of an instance given away; absent: nobody is told. */
  notifier?: Notifier;
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

export class Instances {
  /** Launches in flight in this process: reconcile leaves their records alone. */
  readonly launching = new Set<string>();
  private readonly saga: LaunchSaga;
  /** Stops in flight, by instance name. */
  readonly stopping = new Map<string, Promise<InstanceRecord>>();

  constructor(private readonly deps: InstanceDeps) {
    this.saga = new LaunchSaga(deps);
  }

  /** Where users reach an instance: SPREADSERVE_PUBLIC_URL and its port, or on Swarm its node's
   * address (with the public URL's scheme) and its port there. */
  url(record: Pick<InstanceRecord, 'port' | 'node'>): string {
    const { publicUrl } = this.deps.config;
    if (!record.node) return `${publicUrl}:${record.port}`;
    const { address } = record.node;
    const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
    return `${new URL(publicUrl).protocol}//${host}:${record.port}`;
  }

  get(name: string): InstanceRecord {
    const record = own(this.deps.store.read().instances, name);
    if (!record) {
      throw new UserError(
        'not-found',
        `There is no instance named ${name}; type \`list\` to see the instances.`,
      );
    }
    return record;
  }

  async launch(request: LaunchRequest): Promise<InstanceRecord> {
    const { store, engine, clock } = this.deps;
    requireUser(request.actor, 'launch instances');
    store.assertWritable(); // before any Docker call: nothing could be recorded
    const template = findTemplate(this.deps.templates, request.template);
    if (request.name !== undefined && !NAME_RE.test(request.name)) {
      throw new UserError('usage', `"${request.name}" is not a valid name: ${NAME_HINT}.`);
    }
    if (request.name !== undefined && isPrototypeKey(request.name)) throw reservedName(request.name);
    assertRunsOn(template, await engine.platform()); // before any port is reserved or container made
    const image = await engine.inspectImage(template.image); // also proves the engine answers before any store change
    if (!image) {
      throw new UserError(
        'not-found',
        `The image ${template.image} of template ${template.name} is not built yet; an admin can type \`build ${template.name}\`.`,
      );
    }
    const owner = request.actor.id;
    // The launch is in flight from the very update that reserves its port: a reconcile whose own
    // update runs while this one is being written must see it as in flight, not as a dead launch.
    let inFlight: string | undefined;
    try {
      // On Swarm, where it may run: asked before the update (an engine call), chosen inside it.
      const nodes = engine.nodes ? await engine.nodes(this.placementOf(template)) : undefined;
      const { name, port, node } = await store.update((doc) => {
        const reserved = reserveLaunch(
          this.deps,
          doc,
          { ...request, template: template.name, policy: this.policyOf(template.name), nodes },
          clock.now(),
        );
        this.launching.add(reserved.name); // after the checks: a refused launch adds nothing
        inFlight = reserved.name;
        return reserved;
      });
      const record = await this.saga.start(name, template, port, node, owner, request.onProgress);
      await this.auditPastLifetime(request, record);
      return record;
    } finally {
      // Also when the write failed: the store rolled the reservation back.
      if (inFlight !== undefined) this.launching.delete(inFlight);
    }
  }

  /** An admin's launch whose --ttl goes past MAX_LIFETIME: its launch audit entry says so. */
  private async auditPastLifetime(request: LaunchRequest, record: InstanceRecord): Promise<void> {
    const policy = this.policyOf(record.template);
    const { ttlMs } = request;
    const max = policy.maxLifetimeMs;
    if (request.actor.role !== 'admin' || ttlMs === undefined || max === undefined || ttlMs <= max) return;
    const reason = `time limit ${formatDuration(ttlMs)}, past ${limitName(policy, 'maxLifetimeMs')} (${formatDuration(max)}): allowed for an admin`;
    try {
      await this.deps.store.update((doc) => {
        // Replaced, not changed: a written audit entry is never changed in place (store/draft.ts).
        const at = doc.audit.findLastIndex((e) => e.action === 'launch' && e.instance === record.name);
        const entry = doc.audit[at];
        if (entry) doc.audit[at] = { ...entry, reason };
      });
    } catch (err) {
      this.deps.log.warn(
        { instance: record.name, err: String(err) },
        'could not audit a launch past MAX_LIFETIME',
      );
    }
  }

  /** Stops and removes the container, then closes the record and frees the port. The reclaim
   * pass stops through here too, audited as action 'reclaim'. */
  async stop(
    actor: Actor,
    name: string,
    reason = 'stopped by its owner or an admin',
    action: 'stop' | 'reclaim' = 'stop',
  ): Promise<InstanceRecord> {
    // One stop of an instance at a time (a double click, a stop racing the reclaim pass): the
    // next one waits, then sees the outcome (the instance is gone) instead of Docker's 409.
    const earlier = this.stopping.get(name);
    if (earlier) await earlier.catch(() => undefined);
    const { store, pool, clock } = this.deps;
    const record = this.get(name);
    requireOwnerOrAdmin(actor, record.owner, name, 'stop');
    store.assertWritable();
    const stopping = (async () => {
      await this.saga.removeContainer(name, record.containerId);
      await store.update((doc) => {
        closeRecord(doc, pool, name, { at: clock.now(), actor: actor.id, action, reason });
      });
      return record;
    })();
    this.stopping.set(name, stopping);
    try {
      return await stopping;
    } finally {
      if (this.stopping.get(name) === stopping) this.stopping.delete(name);
    }
  }

  /** Hands an instance to another user, for its owner or an admin (core/handoff.ts). */
  give(actor: Actor, name: string, receiver: Actor): Promise<GiveResult> {
    return giveInstance({ ...this.deps, url: (record) => this.url(record) }, actor, name, receiver);
  }

  /** Marks an instance active now, postpones its idle reclaim and cancels a pending warning. */
  async extend(
    actor: Actor,
    name: string,
    ms: number,
    reason = 'kept by its owner or an admin',
  ): Promise<InstanceRecord> {
    return (await this.extendCapped(actor, name, ms, reason)).record;
  }

  /** extend, also saying which limit cut it short for a non-admin (or an admin went past). */
  async extendCapped(
    actor: Actor,
    name: string,
    ms: number,
    reason = 'kept by its owner or an admin',
  ): Promise<{ record: InstanceRecord; cap?: LimitName }> {
    const { store, clock } = this.deps;
    requireOwnerOrAdmin(actor, this.get(name).owner, name, 'extend');
    return store.update((doc) => {
      const record = own(doc.instances, name);
      if (!record) throw new UserError('not-found', `${name} was stopped meanwhile.`);
      const now = clock.now();
      const { until, cap } = this.extendTarget(actor, record, now, ms);
      record.lastActivityAt = now;
      record.keepUntil = Math.max(record.keepUntil ?? 0, until);
      // A TTL is a hard limit the owner chose; an extend moves it as far as the keep.
      if (record.expiresAt !== undefined) record.expiresAt = Math.max(record.expiresAt, until);
      record.warning = undefined;
      const past = actor.role === 'admin' && cap ? `, past ${cap}: allowed for an admin` : '';
      audit(doc, {
        at: now,
        actor: actor.id,
        action: 'extend',
        instance: name,
        reason: `${reason} for ${formatDuration(ms)}${past}`,
      });
      return { record, cap };
    });
  }

  /** How far an extend by `ms` reaches, and the limit that cut it short (for an admin: that it
   * went past). A non-admin never goes past MAX_EXTEND per extend, nor MAX_LIFETIME from launch. */
  private extendTarget(
    actor: Actor,
    record: Pick<InstanceRecord, 'name' | 'createdAt' | 'template'>,
    now: number,
    ms: number,
  ): { until: number; cap?: LimitName } {
    const { maxExtendMs } = this.deps.config.reclaim;
    const policy = this.policyOf(record.template);
    const maxLifetimeMs = policy.maxLifetimeMs;
    let until = now + ms;
    let cap: LimitName | undefined;
    if (maxExtendMs !== undefined && ms > maxExtendMs) {
      cap = 'MAX_EXTEND';
      if (actor.role !== 'admin') until = now + maxExtendMs;
    }
    if (maxLifetimeMs !== undefined && until > record.createdAt + maxLifetimeMs) {
      cap = limitName(policy, 'maxLifetimeMs');
      const end = record.createdAt + maxLifetimeMs;
      // Past it, a user's extend would only clear the time-limit warning, again and again.
      if (actor.role !== 'admin' && end <= now) {
        throw new UserError(
          'quota',
          `${record.name} has lived its ${cap} (${formatDuration(maxLifetimeMs)}); only an admin can keep it longer.`,
        );
      }
      if (actor.role !== 'admin') until = end;
    }
    return { until, cap };
  }

  /** Swarm: the constraints a template's instances' node must meet. */
  private placementOf(template: Template): readonly string[] {
    return template.placement ?? this.deps.config.placement;
  }

  /** The reclaim and quota settings of a template's instances: its own, else the global ones. */
  policyOf(template: string) {
    return policyFor(this.deps.templates, template, this.deps.config);
  }

  /** Shutdown: every launch in flight is undone (its container removed, its port freed). */
  cancelLaunches(): void {
    this.saga.cancelAll();
  }

  /** The last `lines` log lines of an instance, for its owner or an admin. */
  async logs(actor: Actor, name: string, lines: number): Promise<string[]> {
    const record = this.get(name);
    requireOwnerOrAdmin(actor, record.owner, name, 'read the logs of');
    // Never by the bare container name: that one may be another bot's (another scope on this host).
    if (record.containerId === undefined) {
      throw new UserError(
        'conflict',
        `${name} is still starting and its container is not known yet; try \`logs ${name}\` again in a moment.`,
      );
    }
    return this.deps.engine.logs(record.containerId, lines);
  }

  /** The engine list in flight: concurrent `list`s and App Homes share it if it began within 1 s,
   * keyed by the store document it began under: every store change (a launch, a stop) makes a new
   * document, so nobody joins a list that began before a change they already saw. */
  private readonly listing = new SingleFlight<ReadonlyDoc, ContainerSummary[]>({ maxShareMs: 1_000 });

  /** The store's instances with Docker's view of each, from one engine call shared with any
   * concurrent caller; the store is read after it answers, by each caller. */
  async observe(): Promise<ObservedInstance[]> {
    const { engine, config, store } = this.deps;
    const containers = await this.listing.run(store.read(), () => engine.list(managedFilter(config.scope)));
    const byName = byInstance(containers);
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
      return { record, state, url: this.url(record) };
    });
  }
}

/** The limits a non-admin's --ttl, extend or Keep stops at. */
export type LimitName = 'MAX_EXTEND' | ReturnType<typeof limitName>;

function reservedName(name: string): UserError {
  return new UserError(
    'usage',
    `"${name}" is a reserved word and cannot name an instance; choose another name.`,
  );
}

/** A free generated name: the template's name and a short random suffix. */
