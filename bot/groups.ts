// User-group members from Slack (usergroups.users.list), cached at most five minutes. The lookup
// sits in the path of every command whose role depends on a group, so it fails closed within
// seconds: a group Slack cannot list in time counts as empty (the user gets the role they have
// without it), with one log line, and the next lookups within half a minute do not wait again.
import type { WebClient } from '@slack/web-api';
import type { GroupDirectory } from '../core/policy.ts';
import { withTimeout } from '../lib/concurrency.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';

export const GROUP_CACHE_MS = 5 * 60_000;
/** A lookup Slack has not answered within this is given up on. */
export const GROUP_LOOKUP_TIMEOUT_MS = 3_000;
/** A failed lookup counts as an empty group this long, then Slack is asked again. */
export const GROUP_FAILURE_CACHE_MS = 30_000;

export interface GroupDirectoryOptions {
  log?: Pick<Logger, 'warn'>;
  now?: () => number;
  timeoutMs?: number;
}

export class SlackGroupDirectory implements GroupDirectory {
  private readonly cache = new Map<string, { until: number; members: Promise<readonly string[]> }>();
  /** Groups whose last lookup failed, until when they count as empty. */
  private readonly failed = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly client: WebClient,
    private readonly options: GroupDirectoryOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  membersOf(groupId: string): Promise<readonly string[]> {
    const hit = this.cache.get(groupId);
    if (hit && this.now() < hit.until) return hit.members;
    const timeoutMs = this.options.timeoutMs ?? GROUP_LOOKUP_TIMEOUT_MS;
    const asked = this.client.usergroups.users.list({ usergroup: groupId }).then((r) => {
      // Cached when it comes, even after the wait was given up on: the next command has it.
      const users: readonly string[] = r.users ?? [];
      this.cache.set(groupId, { until: this.now() + GROUP_CACHE_MS, members: Promise.resolve(users) });
      this.failed.delete(groupId);
      return users;
    });
    const members = withTimeout(asked, timeoutMs, `Slack did not answer within ${timeoutMs} ms`).catch(
      (err: unknown) => {
        // Fails closed: no member is assumed, for a short while, so a slow Slack stalls no command.
        const until = this.now() + GROUP_FAILURE_CACHE_MS;
        this.cache.set(groupId, { until, members: Promise.resolve([]) });
        this.failed.set(groupId, until);
        this.options.log?.warn(
          { group: groupId, err: describeError(err) },
          'user-group lookup failed: its members count as none for now',
        );
        return [] as readonly string[];
      },
    );
    asked.catch(() => undefined); // a failure after the timeout was already handled above
    this.cache.set(groupId, { until: this.now() + GROUP_CACHE_MS, members });
    return members;
  }

  /** Groups that count as empty now because Slack could not list them: a refusal says so. */
  unavailable(): string[] {
    const now = this.now();
    return [...this.failed].filter(([, until]) => now < until).map(([group]) => group);
  }
}
