// Whose clock quiet hours are read on: the owner's time zone, from the front end that knows it
// (bot/time-zones.ts asks Slack), else the server's. The reclaim pass looks up the owners of the
// running instances before it decides, so the policy itself stays pure.
import type { OwnerQuiet, QuietHours } from './quiet-hours.ts';

/** The zone (an IANA name) an owner's quiet hours are read in. Never rejects: fails to the server's. */
export interface TimeZones {
  zoneOf(owner: string): Promise<string>;
}

/** The zone of this process (TZ, else the system's). */
export function serverTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Everyone on the server's clock: the CLI and the local shell, whose users have no Slack zone. */
export const serverTimeZones: TimeZones = { zoneOf: async () => serverTimeZone() };

/** Owner -> their quiet hours and zone. */
export type OwnersQuiet = Map<string, OwnerQuiet>;

/** The quiet hours of each running instance's owner, looked up before a pass decides; none when
 * QUIET_HOURS is off. Zones from `timeZones`, else the server's. */
export async function ownersQuiet(
  deps: { settings: { quietHours?: QuietHours }; timeZones?: TimeZones },
  doc: { instances: Record<string, { owner: string; state: string }> },
): Promise<OwnersQuiet> {
  const found: OwnersQuiet = new Map();
  const hours = deps.settings.quietHours;
  if (!hours) return found;
  const zones = deps.timeZones ?? serverTimeZones;
  const running = Object.values(doc.instances).filter((r) => r.state === 'running');
  const unique = [...new Set(running.map((r) => r.owner))];
  const named = await Promise.all(unique.map(async (owner) => [owner, await zones.zoneOf(owner)] as const));
  for (const [owner, timeZone] of named) found.set(owner, { hours, timeZone });
  return found;
}
