// `give`: an instance changes owner in the store, and both owners are told. Docker cannot change a
// container's labels, and recreating the container would lose what its user made in it, so the
// owner label keeps naming the launcher: the store's record is the truth for every instance the
// store knows (reconcile matches records to containers by the instance label and never rewrites
// an owner); the owner label only matters when a container is adopted after the store was lost.
import type { Clock } from '../lib/clock.ts';
import { UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { own } from '../lib/own.ts';
import type { InstanceRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { audit } from './audit.ts';
import type { Config } from './config.ts';
import type { Handoff, Notifier, NotifyResult } from './notifier.ts';
import { type Actor, requireOwnerOrAdmin } from './policy.ts';
import { assertQuota } from './quota.ts';
import type { TemplateSet } from './templates.ts';

export interface HandoffDeps {
  store: Store;
  config: Pick<Config, 'maxInstancesPerUser'>;
  /** The instance's template may set its own maxPerUser, which the receiver is held to. */
  templates: TemplateSet;
  clock: Clock;
  log: Logger;
  notifier?: Notifier;
  url(record: Pick<InstanceRecord, 'port' | 'node'>): string;
}

export interface GiveResult {
  handoff: Handoff;
  /** What telling each owner came to, `from` first; empty when no notifier can tell anyone. */
  told: NotifyResult[];
}

/** Hands instance `name` from its owner to `receiver`, for the owner or an admin. */
export async function giveInstance(
  deps: HandoffDeps,
  actor: Actor,
  name: string,
  receiver: Actor,
): Promise<GiveResult> {
  const { store, clock } = deps;
  if (receiver.role === 'none') {
    throw new UserError(
      'forbidden',
      `${receiver.id} may not use SpreadServe, so cannot be given ${name}; an admin can add them to SPREADSERVE_USERS.`,
    );
  }
  const handoff = await store.update((doc): Handoff => {
    const record = own(doc.instances, name);
    if (!record) {
      throw new UserError(
        'not-found',
        `There is no instance named ${name}; type \`list\` to see the instances.`,
      );
    }
    requireOwnerOrAdmin(actor, record.owner, name, 'give away');
    if (record.owner === receiver.id) {
      throw new UserError('usage', `${name} already belongs to ${receiver.id}; give it to someone else.`);
    }
    if (record.state === 'starting') {
      throw new UserError('conflict', `${name} is still starting; give it away once it is up.`);
    }
    assertQuota(doc, deps.config, receiver, receiver.id, deps.templates.get(record.template));
    const at = clock.now();
    const from = record.owner;
    record.owner = receiver.id;
    // A pending warning went to the previous owner: the new one gets their own, from the next pass.
    record.warning = undefined;
    audit(doc, {
      at,
      actor: actor.id,
      action: 'give',
      instance: name,
      template: record.template,
      reason: `from ${from} to ${receiver.id}`,
    });
    return {
      instance: name,
      template: record.template,
      url: deps.url(record),
      from,
      to: receiver.id,
      by: actor.id,
      at,
    };
  });
  return { handoff, told: await tell(deps, handoff) };
}

/** Telling is best effort: the hand-off is done and audited whether or not a message arrives. */
async function tell(deps: HandoffDeps, handoff: Handoff): Promise<NotifyResult[]> {
  const send = deps.notifier?.instanceGiven?.bind(deps.notifier);
  if (!send) return [];
  try {
    return await send(handoff);
  } catch (err) {
    deps.log.warn(
      { instance: handoff.instance, err: String(err) },
      'could not tell the owners of a hand-off',
    );
    const failed = { delivered: false, detail: 'the message failed (see the log)' };
    return [failed, failed];
  }
}
