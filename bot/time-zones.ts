// Owners' time zones from Slack (users.info: user.tz, else user.tz_offset), for QUIET_HOURS,
// cached six hours (people rarely move; a stale zone costs one warning an hour early or late).
// The lookup sits in the reclaim pass, so it fails closed within seconds to the server's zone,
// with one log line, and the next lookups within half a minute do not wait again. Owners who are
// no Slack user (`cli:...`, `schedule`) are on the server's clock without asking.
import type { WebClient } from '@slack/web-api';
import { isKnownTimeZone } from '../core/quiet-hours.ts';
import { serverTimeZone, type TimeZones } from '../core/time-zones.ts';
import { withTimeout } from '../lib/concurrency.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { SLACK_USER_ID } from '../lib/slack-ids.ts';

export const ZONE_CACHE_MS = 6 * 60 * 60_000;
/** A lookup Slack has not answered within this is given up on. */
export const ZONE_LOOKUP_TIMEOUT_MS = 3_000;
/** A failed lookup counts as the server's zone this long, then Slack is asked again. */
export const ZONE_FAILURE_CACHE_MS = 30_000;

export interface TimeZoneOptions {
  log?: Pick<Logger, 'warn'>;
  now?: () => number;
  timeoutMs?: number;
}

export class SlackTimeZones implements TimeZones {
  private readonly cache = new Map<string, { until: number; zone: Promise<string> }>();
  private readonly now: () => number;

  constructor(
    private readonly client: WebClient,
    private readonly options: TimeZoneOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  zoneOf(owner: string): Promise<string> {
    if (!SLACK_USER_ID.test(owner)) return Promise.resolve(serverTimeZone());
    const hit = this.cache.get(owner);
    if (hit && this.now() < hit.until) return hit.zone;
    const timeoutMs = this.options.timeoutMs ?? ZONE_LOOKUP_TIMEOUT_MS;
    const asked = this.client.users.info({ user: owner }).then((r) => {
      // Cached when it comes, even after the wait was given up on: the next pass has it.
      const zone = zoneOfUser(r.user?.tz, r.user?.tz_offset);
      this.cache.set(owner, { until: this.now() + ZONE_CACHE_MS, zone: Promise.resolve(zone) });
      return zone;
    });
    const zone = withTimeout(asked, timeoutMs, `Slack did not answer within ${timeoutMs} ms`).catch(
      (err: unknown) => {
        const server = serverTimeZone();
        this.cache.set(owner, { until: this.now() + ZONE_FAILURE_CACHE_MS, zone: Promise.resolve(server) });
        this.options.log?.warn(
          { owner, err: describeError(err) },
          "time-zone lookup failed: the server's zone is used for now",
        );
        return server;
      },
    );
    asked.catch(() => undefined); // a failure after the timeout was already handled above
    this.cache.set(owner, { until: this.now() + ZONE_CACHE_MS, zone });
    return zone;
  }
}

/** Slack's zone name when Intl knows it; else a whole-hour offset as Etc/GMT∓h; else the server's. */
export function zoneOfUser(tz: string | undefined, offsetSeconds: number | undefined): string {
  if (tz && isKnownTimeZone(tz)) return tz;
  if (offsetSeconds !== undefined && offsetSeconds % 3600 === 0 && Math.abs(offsetSeconds) <= 14 * 3600) {
    const hours = offsetSeconds / 3600;
    // Etc/GMT signs are POSIX's: Etc/GMT-2 is two hours AHEAD of UTC.
    return hours === 0 ? 'UTC' : `Etc/GMT${hours > 0 ? '-' : '+'}${Math.abs(hours)}`;
  }
  return serverTimeZone();
}
