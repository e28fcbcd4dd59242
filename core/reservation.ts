// A launch's reservation, inside the store update that records it starting: its name, the owner's
// quota, its time limit, a port, and on Swarm the node it goes to. The bot chooses the node itself
// (not Swarm's scheduler) because the port is reserved per node before the service exists: among
// the available nodes the placement constraints allow, the one with the fewest of this bot's
// instances, ties by name; a node whose pool is full is passed over.
import { randomBytes } from 'node:crypto';
import type { EngineNode } from '../engine/types.ts';
import { UserError } from '../lib/errors.ts';
import { readAll } from '../store/draft.ts';
import type { InstanceNode, StoreDoc } from '../store/schema.ts';
import type { Config } from './config.ts';
import type { Actor } from './policy.ts';
import type { PortPool } from './port-pool.ts';
import { assertQuota } from './quota.ts';
import type { EffectivePolicy, TemplateSet } from './templates.ts';

export interface ReservationRequest {
  actor: Actor;
  name?: string;
  ttlMs?: number;
  template: string;
  policy: Pick<EffectivePolicy, 'maxLifetimeMs'>;
  /** Swarm: the nodes the template may run on (each with `available`); undefined on one host. */
  nodes?: readonly EngineNode[];
}

export interface Reservation {
  name: string;
  port: number;
  node?: InstanceNode;
}

export interface ReservationDeps {
  pool: PortPool;
  templates: TemplateSet;
  config: Pick<Config, 'maxInstancesPerUser'>;
}

/** Inside a store update: checks the name and the quota, reserves a port (on a node, on Swarm),
 * records the instance starting. */
export function reserveLaunch(
  deps: ReservationDeps,
  doc: StoreDoc,
  request: ReservationRequest,
  now: number,
): Reservation {
  const { pool, config, templates } = deps;
  const { actor, template } = request;
  const max = request.policy.maxLifetimeMs;
  // A user's --ttl stops at the lifetime cap; an admin's may go past it (the launch's audit says so).
  const ttlMs =
    request.ttlMs !== undefined && max !== undefined && actor.role !== 'admin'
      ? Math.min(request.ttlMs, max)
      : (request.ttlMs ?? max);
  const name = request.name ?? freeName(doc, template);
  if (Object.hasOwn(doc.instances, name)) {
    throw new UserError('conflict', `The name ${name} is taken; choose another with --name.`);
  }
  assertQuota(doc, config, actor, 'you', templates.get(template));
  const { port, node } =
    request.nodes === undefined
      ? { port: pool.reserve(doc, name, now), node: undefined }
      : reserveOnNode(pool, doc, name, now, request.nodes, template);
  doc.instances[name] = {
    name,
    owner: actor.id,
    template,
    port,
    state: 'starting',
    node,
    createdAt: now,
    lastActivityAt: now,
    expiresAt: ttlMs === undefined ? undefined : now + ttlMs,
  };
  return { name, port, node };
}

/** The least busy available node with a free port, and that port. */
function reserveOnNode(
  pool: PortPool,
  doc: StoreDoc,
  name: string,
  now: number,
  nodes: readonly EngineNode[],
  template: string,
): { port: number; node: InstanceNode } {
  const load = new Map<string, number>();
  for (const record of readAll(doc.instances)) {
    if (record.node) load.set(record.node.id, (load.get(record.node.id) ?? 0) + 1);
  }
  const candidates = nodes
    .filter((n) => n.available)
    .sort((a, b) => (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0) || a.name.localeCompare(b.name));
  if (candidates.length === 0) {
    throw new UserError(
      'pool-exhausted',
      nodes.length === 0
        ? `No swarm node may run template ${template} (its placement constraints match none); an admin can check SPREADSERVE_PLACEMENT and the template's placement.`
        : `No swarm node that may run template ${template} is ready and active (${nodes.map((n) => n.name).join(', ')}); try again when one is back.`,
    );
  }
  for (const node of candidates) {
    try {
      const port = pool.reserve(doc, name, now, node.id);
      return { port, node: { id: node.id, name: node.name, address: node.address } };
    } catch (err) {
      if (!(err instanceof UserError && err.kind === 'pool-exhausted')) throw err;
    }
  }
  throw new UserError(
    'pool-exhausted',
    `All ${pool.total} ports of the pool are in use on every node that may run template ${template}; stop an instance (see \`list all\`) or widen SPREADSERVE_PORTS.`,
  );
}

function freeName(doc: StoreDoc, template: string): string {
  for (let i = 0; i < 20; i++) {
    const name = `${template.slice(0, 34)}-${randomBytes(2).toString('hex')}`;
    if (!Object.hasOwn(doc.instances, name)) return name;
  }
  throw new UserError('conflict', 'Could not find a free name; choose one with --name.');
}
