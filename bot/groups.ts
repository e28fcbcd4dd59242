// User-group members from Slack (usergroups.users.list), cached at most five minutes.
import type { WebClient } from '@slack/web-api';
import type { GroupDirectory } from '../core/policy.ts';

export const GROUP_CACHE_MS = 5 * 60_000;

export class SlackGroupDirectory implements GroupDirectory {
  private readonly cache = new Map<string, { at: number; members: Promise<readonly string[]> }>();

  constructor(
    private readonly client: WebClient,
    private readonly now: () => number = Date.now,
  ) {}

  membersOf(groupId: string): Promise<readonly string[]> {
    const hit = this.cache.get(groupId);
    if (hit && this.now() - hit.at < GROUP_CACHE_MS) return hit.members;
    const members = this.client.usergroups.users
      .list({ usergroup: groupId })
      .then((r) => r.users ?? [])
      .catch((err: unknown) => {
        this.cache.delete(groupId); // a failed lookup is retried next time, not cached
        throw err;
      });
    this.cache.set(groupId, { at: this.now(), members });
    return members;
  }
}
