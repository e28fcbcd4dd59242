// How many instances one user may hold: checked when they launch one and when one is given to
// them, by this one function, so both ways of coming to own an instance meet the same limits.
import { UserError } from '../lib/errors.ts';
import { readAll } from '../store/draft.ts';
import type { StoreDoc } from '../store/schema.ts';
import type { Config } from './config.ts';
import type { Actor } from './policy.ts';
import type { Template } from './templates.ts';

/**
 * Inside a store update: refuses when `owner` (not an admin) already holds MAX_INSTANCES_PER_USER
 * instances. `subject` is who the sentence speaks to: 'you' (a launch) or the receiver's id (a give).
 */
export function assertQuota(
  doc: Pick<StoreDoc, 'instances'>,
  config: Pick<Config, 'maxInstancesPerUser'>,
  owner: Pick<Actor, 'id' | 'role'>,
  subject: 'you' | string = 'you',
  /** The instance's template: its own maxPerUser, when it sets one, counts its instances only. */
  template?: Pick<Template, 'name' | 'policy'>,
): void {
  const own = template?.policy.maxPerUser;
  const limit = own ?? config.maxInstancesPerUser;
  if (limit <= 0 || owner.role === 'admin') return;
  // readAll: counting must not copy every record of the update's draft (store/draft.ts).
  const owned = readAll(doc.instances).filter(
    (i) => i.owner === owner.id && (own === undefined || i.template === template?.name),
  ).length;
  if (owned >= limit) {
    if (own !== undefined) throw templateQuota(template?.name ?? '', owned, limit, subject);
    throw new UserError(
      'quota',
      subject === 'you'
        ? `You already run ${owned} of your ${limit} instances; stop one first.`
        : `${subject} already runs ${owned} of their ${limit} instances; they must stop one first.`,
    );
  }
}

/** A template's own maxPerUser reached: the sentence names the template and its limit. */
function templateQuota(template: string, owned: number, limit: number, subject: string): UserError {
  const of = `${owned} instance${owned === 1 ? '' : 's'} of template ${template}`;
  const rule = `template ${template} allows ${limit} per user (maxPerUser)`;
  return new UserError(
    'quota',
    subject === 'you'
      ? `You already run ${of}; ${rule}. Stop one first, or launch another template.`
      : `${subject} already runs ${of}; ${rule}. They must stop one first.`,
  );
}
