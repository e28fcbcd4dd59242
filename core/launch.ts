// The launch saga's second half: create and start the container (trying other pool ports when
// Docker finds one held by another process), wait until it answers its health path, and record
// it running. On any failure the container is removed and the record closed, freeing the port.
// When the engine did not answer, the record is closed at once and the container is looked for
// afterwards for a while: a create or start the engine carries out once it answers again leaves a
// container nobody asked to keep.
import type { ContainerEngine } from '../engine/types.ts';
import type { Clock } from '../lib/clock.ts';
import { formatDuration } from '../lib/duration.ts';
import { describeError, UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { InstanceNode, InstanceRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { audit } from './audit.ts';
import type { Config } from './config.ts';
import { waitForHttp } from './http-probe.ts';
import { containerName, instanceLabels, LABEL, managedFilter } from './labels.ts';
import { NetworkPlacement } from './networks.ts';
import type { PortPool } from './port-pool.ts';
import { closeRecord } from './records.ts';
import type { Template } from './templates.ts';

/** How many other pool ports a launch tries when Docker finds a port held by another process. */
const PORT_RETRIES = 5;

/** After a launch failed on an engine that did not answer, when to look for its container
 * (ms after the failure, one pass each): bounded in count and, with the calls' own bounds, time. */
const SWEEP_DELAYS_MS = [0, 1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 60_000];
/** Two answered passes this far apart that find nothing end the search: a create still queued
 * in an engine that just came back has completed by then. */
const SWEEP_SETTLE_MS = 2_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** The bridge networks of this bot's instances (inter-container traffic off), created on first use. */
export { networkName } from './networks.ts';

const engineDidNotAnswer = (err: unknown) => err instanceof UserError && err.kind === 'engine-unreachable';

export interface LaunchDeps {
  store: Store;
  engine: ContainerEngine;
  pool: PortPool;
  config: Pick<Config, 'scope' | 'bindIp' | 'networkSize'>;
  clock: Clock;
  log: Logger;
}

export class LaunchSaga {
  /** Aborted when the bot shuts down: launches waiting for health stop waiting and are undone. */
  private readonly shutdown = new AbortController();

  /** Which network each launch joins (the lowest with room), its slot held until the launch ends. */
  private readonly placement: NetworkPlacement;

  constructor(private readonly deps: LaunchDeps) {
    const { scope, networkSize } = deps.config;
    this.placement = new NetworkPlacement(scope, networkSize);
  }

  /** Undo every launch in flight (each compensates: container removed, port freed). */
  cancelAll(): void {
    this.shutdown.abort();
  }

  /** Where the bot itself probes a published port: on Swarm, at the node's address. */
  private probeUrl(port: number, path: string, node: InstanceNode | undefined): string {
    const ip = node?.address ?? this.deps.config.bindIp;
    const host = ip === '0.0.0.0' ? '127.0.0.1' : ip === '::' ? '[::1]' : ip.includes(':') ? `[${ip}]` : ip;
    return `http://${host}:${port}${path}`;
  }

  /** Create, start, wait for health; on any failure the container is removed and the port freed. */
  async start(
    name: string,
    template: Template,
    firstPort: number,
    node: InstanceNode | undefined,
    owner: string,
    onProgress?: (line: string) => void,
  ): Promise<InstanceRecord> {
    const { store, engine, pool, clock, config, log } = this.deps;
    let port = firstPort;
    let containerId: string | undefined;
    try {
      // Only a Linux engine joins the bot's own networks (a Windows one has no bridge driver); on
      // Swarm each task sits on its node's default bridge (the bot's bridges are one host's).
      const onOwnNetwork = node === undefined && (await engine.platform()).os === 'linux';
      const network = onOwnNetwork ? this.placement.place(store.read(), name) : undefined;
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
            pidsLimit: template.pidsLimit,
            readOnly: template.readOnly,
            user: template.user,
            isolation: template.isolation,
            node: node?.id,
            network:
              network === undefined ? undefined : { name: network, labels: managedFilter(config.scope) },
          });
          break;
        } catch (err) {
          if (!(err instanceof UserError && err.kind === 'port-taken') || attempt >= PORT_RETRIES) throw err;
          const taken = port;
          port = await store.update((doc) => {
            pool.setAside(doc, taken, 'held by another process', clock.now(), node?.id);
            audit(doc, {
              at: clock.now(),
              actor: owner,
              action: 'set-aside',
              instance: name,
              reason: node ? `port ${taken} on node ${node.name}` : `port ${taken}`,
            });
            const next = pool.reserve(doc, name, clock.now(), node?.id);
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
      const where = node ? `port ${port} of node ${node.name}` : `port ${port}`;
      onProgress?.(`Container started on ${where}; waiting for ${template.healthPath} to answer.`);
      const id = containerId;
      const healthy = await waitForHttp(this.probeUrl(port, template.healthPath, node), {
        timeoutMs: template.startTimeoutMs,
        signal: this.shutdown.signal,
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
      if (this.shutdown.signal.aborted) {
        throw new UserError(
          'shutting-down',
          `The bot is shutting down, so the launch of ${name} was undone and its port freed; launch it again in a moment.`,
        );
      }
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
        record.network = network;
        record.lastActivityAt = clock.now();
        pool.markInUse(doc, port, name, clock.now(), node?.id);
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
    } finally {
      this.placement.release(name);
    }
  }

  private async tail(containerId: string): Promise<string[]> {
    try {
      return await this.deps.engine.logs(containerId, 20);
    } catch {
      return [];
    }
  }

  /**
   * Undo a failed launch: container removed, record closed, port freed. Best effort, logged. When
   * the engine did not answer (or the removal failed), the record is closed without waiting for it
   * and the container is looked for afterwards (`sweep`).
   */
  private async abandon(name: string, containerId: string | undefined, cause: unknown): Promise<void> {
    const { store, pool, log } = this.deps;
    let removed = false;
    if (!engineDidNotAnswer(cause)) {
      try {
        await this.removeContainer(name, containerId);
        removed = true;
      } catch (err) {
        log.error(
          { instance: name, err: describeError(err) },
          'could not remove the container of a failed launch',
        );
      }
    }
    try {
      await store.update((doc) => {
        closeRecord(doc, pool, name);
      });
    } catch (err) {
      log.error({ instance: name, err: describeError(err) }, 'could not close the record of a failed launch');
    }
    log.info({ instance: name, cause: describeError(cause) }, 'launch abandoned');
    if (!removed) {
      void this.sweep(name).catch((err: unknown) =>
        log.error(
          { instance: name, err: describeError(err) },
          'the search for a failed launch container failed',
        ),
      );
    }
  }

  /**
   * Looks for the containers of a failed launch (this scope's labels for `name`, never the bare
   * name) for a while after it, and removes what it finds: until two answered passes
   * SWEEP_SETTLE_MS apart find nothing, or SWEEP_DELAYS_MS runs out. Stops as soon as the store
   * holds a record of that name again (a new launch; what it meets is its own to handle).
   */
  private async sweep(name: string): Promise<void> {
    const { engine, store, config, log } = this.deps;
    let quietSince: number | undefined;
    for (const delay of SWEEP_DELAYS_MS) {
      await sleep(delay);
      if (store.read().instances[name]) return;
      let found: string[];
      try {
        found = (await engine.list({ ...managedFilter(config.scope), [LABEL.instance]: name })).map(
          (c) => c.id,
        );
        for (const id of found) await engine.remove(id);
      } catch (err) {
        quietSince = undefined;
        log.debug(
          { instance: name, err: describeError(err) },
          'no answer yet about a failed launch container',
        );
        continue;
      }
      if (found.length > 0) {
        log.warn(
          { instance: name, containers: found },
          'removed the container of a failed launch, found after it',
        );
        quietSince = undefined;
      } else if (quietSince === undefined) {
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= SWEEP_SETTLE_MS) {
        return;
      }
    }
    log.warn(
      { instance: name },
      'gave up looking for the container of a failed launch; reconcile removes it if it appears',
    );
  }

  /**
   * Removes the instance's container: by id when known, else only containers carrying this
   * scope's labels for `name`. Never by bare name: `spreadserve-<name>` may belong to another
   * bot on the same host (a launch refused because that name exists must not remove it).
   */
  async removeContainer(name: string, containerId: string | undefined): Promise<void> {
    const { engine, config } = this.deps;
    if (containerId !== undefined) return engine.remove(containerId);
    const ours = await engine.list({ ...managedFilter(config.scope), [LABEL.instance]: name });
    for (const c of ours) await engine.remove(c.id);
  }
}
