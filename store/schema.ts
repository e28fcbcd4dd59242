// The store document: one JSON file, validated on every open. Bump STORE_VERSION and add a
// migration in store.ts when the shape changes incompatibly.
import { z } from 'zod';

export const STORE_VERSION = 1;

const epochMs = z.number().int().nonnegative();

const instanceSchema = z.object({
  name: z.string(),
  owner: z.string(),
  template: z.string(),
  port: z.number().int(),
  /** 'starting' while a launch is in progress; 'running' once the health path answered. */
  state: z.enum(['starting', 'running']),
  containerId: z.string().optional(),
  /** The bot's bridge network it joined (core/networks.ts); absent in records from before it was
   * recorded (they are on the first), and on engines without one (Windows). */
  network: z.string().optional(),
  /** The Swarm node it runs on (its port is reserved on that node); absent on a single host. */
  node: z.object({ id: z.string(), name: z.string(), address: z.string() }).optional(),
  createdAt: epochMs,
  lastActivityAt: epochMs,
  /** Reclaim due at this time whatever the traffic (from --ttl or MAX_LIFETIME). */
  expiresAt: epochMs.optional(),
  /** Idle reclaim postponed until this time (extend / Keep). */
  keepUntil: epochMs.optional(),
  /** Set while a reclaim warning is pending. */
  warning: z.object({ at: epochMs, reason: z.enum(['idle', 'ttl']), deadline: epochMs }).optional(),
  /** Last network sample, the baseline for the next one. */
  lastSample: z
    .object({
      at: epochMs,
      txBytes: z.number(),
      rxBytes: z.number(),
      /** Bytes sent / received since the last activity, summed over the samples since (evidence). */
      txSinceActivity: z.number().optional(),
      rxSinceActivity: z.number().optional(),
    })
    .optional(),
});
export type InstanceRecord = z.infer<typeof instanceSchema>;
/** The Swarm node an instance runs on. */
export type InstanceNode = NonNullable<InstanceRecord['node']>;

const portEntrySchema = z.object({
  state: z.enum(['reserved', 'in-use', 'set-aside']),
  /** The instance holding it; absent for a set-aside port. */
  instance: z.string().optional(),
  since: epochMs,
  /** Why a port was set aside (e.g. "already allocated by another process"). */
  reason: z.string().optional(),
});
export type PortEntry = z.infer<typeof portEntrySchema>;

const buildRecordSchema = z.object({
  template: z.string(),
  by: z.string(),
  startedAt: epochMs,
  durationMs: z.number().nonnegative(),
  outcome: z.enum(['success', 'failed', 'timeout']),
  imageId: z.string().optional(),
  sizeBytes: z.number().optional(),
  error: z.string().optional(),
});
export type BuildRecord = z.infer<typeof buildRecordSchema>;

const auditEntrySchema = z.object({
  at: epochMs,
  /** A user id, `cli:<user>` or `schedule`. */
  actor: z.string(),
  action: z.enum([
    'launch',
    'stop',
    'extend',
    'warn',
    'reclaim',
    'build',
    'adopt',
    'close',
    'set-aside',
    'give',
    'save',
  ]),
  instance: z.string().optional(),
  template: z.string().optional(),
  reason: z.string().optional(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

/** Usage totals (core/usage.ts): one row per UTC day, user and template; arrays, not maps, so
 * any user or template name (even "__proto__") is only data. */
const usageRowSchema = z.object({
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  user: z.string(),
  template: z.string(),
  seconds: z.number().nonnegative(),
  launches: z.number().int().nonnegative(),
  reclaims: z.number().int().nonnegative(),
  /** Idle seconds reclaimed from instances with a TTL/lifetime (to its end). */
  idleSeconds: z.number().nonnegative(),
  /** Reclaims of instances without one, and the sum of their times (s): counted to the window's end. */
  openReclaims: z.number().int().nonnegative().optional(),
  openReclaimAtSum: z.number().nonnegative().optional(),
});
export type UsageRow = z.infer<typeof usageRowSchema>;
const usageOpenSchema = z.object({
  instance: z.string(),
  owner: z.string(),
  template: z.string(),
  /** Owned by `owner` since (launch, adoption or give). */
  since: epochMs,
  endsAt: epochMs.optional(),
});
export type UsageOpen = z.infer<typeof usageOpenSchema>;
const usageDocSchema = z.object({ days: z.array(usageRowSchema), open: z.array(usageOpenSchema) });
export type UsageDoc = z.infer<typeof usageDocSchema>;

export const storeDocSchema = z.object({
  version: z.literal(STORE_VERSION),
  /** Open instances by name. */
  instances: z.record(z.string(), instanceSchema),
  /** Ports that are not free, by port number (the one host's, or no node's on Swarm). */
  ports: z.record(z.string().regex(/^\d+$/), portEntrySchema),
  /** On Swarm, each node's ports that are not free, by node id then port number: a port is
   * free or taken on each node (host-mode publishing). Absent on a single host. */
  nodePorts: z
    .record(z.string().regex(/^[a-z0-9]{1,64}$/), z.record(z.string().regex(/^\d+$/), portEntrySchema))
    .optional(),
  builds: z.array(buildRecordSchema),
  audit: z.array(auditEntrySchema),
  reclaim: z.object({
    lastPassAt: epochMs.optional(),
    lastPassSummary: z.string().optional(),
    failures: z.array(z.object({ at: epochMs, instance: z.string().optional(), error: z.string() })),
  }),
  /** Absent in stores from before usage totals: rebuilt from the audit trail at first use. */
  usage: usageDocSchema.optional(),
});
export type StoreDoc = z.infer<typeof storeDocSchema>;

export function emptyDoc(): StoreDoc {
  return {
    version: STORE_VERSION,
    instances: {},
    ports: {},
    builds: [],
    audit: [],
    reclaim: { failures: [] },
  };
}

/** The audit trail keeps the newest entries only. */
export const AUDIT_LIMIT = 10_000;
