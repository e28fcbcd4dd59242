// Who may do what. Roles come from Slack user ids and user-group ids in the configuration;
// group members are looked up through a directory the bot provides (cached there).
import { UserError } from '../lib/errors.ts';

export type Role = 'admin' | 'user' | 'none';

export interface Actor {
  /** A Slack user id, `cli:<unix user>` or `schedule`. */
  id: string;
  role: Role;
}

/** Resolves a user group (S...) to its member ids. */
export interface GroupDirectory {
  membersOf(groupId: string): Promise<readonly string[]>;
}

const isGroup = (id: string) => id.startsWith('S');

export class Policy {
  constructor(
    private readonly admins: readonly string[],
    private readonly users: readonly string[],
    private readonly groups?: GroupDirectory,
  ) {}

  async roleOf(userId: string): Promise<Role> {
    if (userId.startsWith('cli:') || userId === 'schedule') return 'admin';
    if (await this.listed(this.admins, userId)) return 'admin';
    if (this.users.length === 0 || (await this.listed(this.users, userId))) return 'user';
    return 'none';
  }

  async actor(userId: string): Promise<Actor> {
    return { id: userId, role: await this.roleOf(userId) };
  }

  private async listed(ids: readonly string[], userId: string): Promise<boolean> {
    if (ids.includes(userId)) return true;
    for (const id of ids) {
      if (isGroup(id) && this.groups && (await this.groups.membersOf(id)).includes(userId)) return true;
    }
    return false;
  }
}

export function requireAdmin(actor: Actor, what: string): void {
  if (actor.role !== 'admin') {
    throw new UserError('forbidden', `Only admins may ${what}; ask someone in SPREADSERVE_ADMINS.`);
  }
}

export function requireUser(actor: Actor, what: string): void {
  if (actor.role === 'none') {
    throw new UserError(
      'forbidden',
      `You are not allowed to ${what}; ask an admin to add you to SPREADSERVE_USERS.`,
    );
  }
}

/** Owners manage their own instances; admins manage any. */
export function requireOwnerOrAdmin(actor: Actor, owner: string, instance: string, what: string): void {
  if (actor.role !== 'admin' && actor.id !== owner) {
    throw new UserError('forbidden', `Only ${owner} (its owner) or an admin may ${what} ${instance}.`);
  }
}
