// The only place that reads the environment. loadConfig(env) is pure: tests pass an object.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { DURATION_HINT, parseDuration } from '../lib/duration.ts';

export interface PortRange {
  from: number;
  to: number;
}

const PORT_RANGES_HINT = 'port ranges like 8080-9079 or 8080-8089,9000-9009 (ports 1-65535)';

export function parsePortRanges(text: string): PortRange[] | null {
  const ranges: PortRange[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(part);
    if (!m) return null;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to > 65535 || from > to) return null;
    ranges.push({ from, to });
  }
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.from <= sorted[i - 1]!.to) return null; // overlapping ranges would count a port twice
  }
  return sorted;
}

const PUBLIC_URL_HINT =
  'expected an http(s) URL without port or path (the port is appended), like http://localhost or https://servers.example.com';

/** http(s)://host with nothing after it but an optional slash. */
function isBareOrigin(text: string): boolean {
  if (!/^https?:\/\/(\[[0-9a-f:.]+\]|[^/?#:@\s[\]]+)\/?$/i.test(text.trim())) return false;
  return URL.canParse(text.trim());
}

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT}, got "${text}"` });
        return z.NEVER;
      }
      return ms;
    });

const optionalDuration = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text === '') return undefined;
    const ms = parseDuration(text);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT} or empty, got "${text}"` });
      return z.NEVER;
    }
    return ms;
  });

const slackIdList = (what: string) =>
  z
    .string()
    .default('')
    .transform((text, ctx) => {
      const ids = text
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = ids.filter((id) => !/^[UWS][A-Z0-9]{2,}$/.test(id));
      if (bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `expected ${what} ids (U..., W... for users, S... for user groups) separated by commas, got "${bad.join(', ')}"`,
        });
        return z.NEVER;
      }
      return ids;
    });

const boolText = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''], { message: 'expected true or false' })
  .default('false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = (fallback: string, what: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      if (!/^\d+$/.test(text.trim())) {
        ctx.addIssue({ code: 'custom', message: `expected ${what}, got "${text}"` });
        return z.NEVER;
      }
      return Number(text);
    });

const emptyToUndefined = (v: unknown) => (v === '' ? undefined : v);

const configSchema = z.object({
  SLACK_SIGNING_SECRET: z.preprocess(emptyToUndefined, z.string().optional()),
  SLACK_BOT_TOKEN: z.preprocess(
    emptyToUndefined,
    z.string().startsWith('xoxb-', { message: 'expected a bot token starting with xoxb-' }).optional(),
  ),
  SLACK_APP_TOKEN: z.preprocess(
    emptyToUndefined,
    z.string().startsWith('xapp-', { message: 'expected an app-level token starting with xapp-' }).optional(),
  ),
  SLACK_API_URL: z.preprocess(
    emptyToUndefined,
    z.url({ message: 'expected a URL like https://slack.com/api/' }).optional(),
  ),
  HTTP_PORT: positiveInt('3000', 'a TCP port number').pipe(
    z.number().int().min(0, 'expected a TCP port 0-65535').max(65535, 'expected a TCP port 0-65535'),
  ),
  DOCKER_HOST: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(
        /^(unix:\/\/\S*|(tcp|http):\/\/[^\s/:]+(:\d{1,5})?\/?|[^\s/:]+:\d{1,5})$/,
        'expected unix:///path/to/docker.sock or tcp://host:port',
      )
      .optional(),
  ),
  SPREADSERVE_DATA: z.string().min(1).default('./data/spreadserve.json'),
  SPREADSERVE_TEMPLATES: z.string().min(1).default('./spreadserve.templates.yml'),
  SPREADSERVE_PORTS: z
    .string()
    .default('8080-9079')
    .transform((text, ctx) => {
      const ranges = parsePortRanges(text);
      if (!ranges) {
        ctx.addIssue({ code: 'custom', message: `expected ${PORT_RANGES_HINT}, got "${text}"` });
        return z.NEVER;
      }
      return ranges;
    }),
  SPREADSERVE_BIND_IP: z
    .union([z.ipv4(), z.ipv6()], { message: 'expected an IP address like 0.0.0.0 or 127.0.0.1' })
    .default('0.0.0.0'),
  SPREADSERVE_SCOPE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'expected a short lowercase id like default or staging')
    .default('default'),
  SPREADSERVE_PUBLIC_URL: z
    .string()
    .default('http://localhost')
    .transform((text, ctx) => {
      // The instance's port is appended, so a port, path, query or fragment would make broken links.
      if (!isBareOrigin(text)) {
        ctx.addIssue({ code: 'custom', message: `${PUBLIC_URL_HINT}, got "${text}"` });
        return z.NEVER;
      }
      return text.trim().replace(/\/+$/, '');
    }),
  SPREADSERVE_ADMINS: slackIdList('Slack user or user-group'),
  SPREADSERVE_USERS: slackIdList('Slack user or user-group'),
  MAX_INSTANCES_PER_USER: positiveInt('3', 'a whole number (0 = no limit)'),
  RECLAIM_CRON: z
    .string()
    .default('*/5 * * * *')
    .transform((text, ctx) => {
      const fields = text.trim().split(/\s+/).length;
      if (fields !== 5 && fields !== 6) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a cron expression like "*/5 * * * *" (5 fields, or 6 with seconds), got "${text}"`,
        });
        return z.NEVER;
      }
      return text;
    }),
  IDLE_TIMEOUT: duration('2h'),
  IDLE_WARNING: duration('15m'),
  IDLE_BYTES_FLOOR: positiveInt('16384', 'a number of bytes'),
  MAX_LIFETIME: optionalDuration,
  RECLAIM_DRY_RUN: boolText,
  BUILD_TIMEOUT: duration('30m'),
  OPS_CHANNEL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^[CGD][A-Z0-9]{2,}$/, 'expected a Slack channel id like C0123ABC')
      .optional(),
  ),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

type Raw = z.output<typeof configSchema>;

export interface Config {
  slack: { signingSecret?: string; botToken?: string; appToken?: string; apiUrl?: string };
  httpPort: number;
  dockerHost?: string;
  dataFile: string;
  templatesFile: string;
  ports: PortRange[];
  bindIp: string;
  publicUrl: string;
  /** Containers of this bot carry org.spreadserve.scope=<scope>; two bots on one host keep apart. */
  scope: string;
  admins: string[];
  users: string[];
  maxInstancesPerUser: number;
  reclaim: {
    cron: string;
    idleTimeoutMs: number;
    idleWarningMs: number;
    idleBytesFloor: number;
    maxLifetimeMs?: number;
    dryRun: boolean;
  };
  buildTimeoutMs: number;
  opsChannel?: string;
  logLevel: Raw['LOG_LEVEL'];
}

/** The variables the schema knows, for `.env.example` checks and docs. */
export const CONFIG_VARIABLES = Object.keys(configSchema.shape) as (keyof typeof configSchema.shape)[];

/** A bad configuration: one message naming each bad variable and what it expects. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const picked: Record<string, string | undefined> = {};
  for (const key of CONFIG_VARIABLES) picked[key] = env[key];
  const result = configSchema.safeParse(picked);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const raw = result.data;
  return {
    slack: {
      signingSecret: raw.SLACK_SIGNING_SECRET,
      botToken: raw.SLACK_BOT_TOKEN,
      appToken: raw.SLACK_APP_TOKEN,
      apiUrl: raw.SLACK_API_URL,
    },
    httpPort: raw.HTTP_PORT,
    dockerHost: raw.DOCKER_HOST,
    dataFile: raw.SPREADSERVE_DATA,
    templatesFile: raw.SPREADSERVE_TEMPLATES,
    ports: raw.SPREADSERVE_PORTS,
    bindIp: raw.SPREADSERVE_BIND_IP,
    publicUrl: raw.SPREADSERVE_PUBLIC_URL,
    scope: raw.SPREADSERVE_SCOPE,
    admins: raw.SPREADSERVE_ADMINS,
    users: raw.SPREADSERVE_USERS,
    maxInstancesPerUser: raw.MAX_INSTANCES_PER_USER,
    reclaim: {
      cron: raw.RECLAIM_CRON,
      idleTimeoutMs: raw.IDLE_TIMEOUT,
      idleWarningMs: raw.IDLE_WARNING,
      idleBytesFloor: raw.IDLE_BYTES_FLOOR,
      maxLifetimeMs: raw.MAX_LIFETIME,
      dryRun: raw.RECLAIM_DRY_RUN,
    },
    buildTimeoutMs: raw.BUILD_TIMEOUT,
    opsChannel: raw.OPS_CHANNEL,
    logLevel: raw.LOG_LEVEL,
  };
}

/** Slack is configured when both the signing secret (or app token) and the bot token are set. */
export function hasSlackCredentials(config: Config): boolean {
  return Boolean(config.slack.botToken && (config.slack.signingSecret || config.slack.appToken));
}

/**
 * The environment to configure from: the process environment over the variables of a `.env`
 * file in the working directory, when there is one (the process environment wins).
 */
export function environment(
  env: Record<string, string | undefined> = process.env,
  envFile = '.env',
): Record<string, string | undefined> {
  let text: string;
  try {
    text = readFileSync(envFile, 'utf8');
  } catch {
    return env;
  }
  return { ...parseEnv(text), ...env };
}
