// The only place that reads the environment. loadConfig(env) is pure: tests pass an object.
//
// Each variable is declared once, in CONFIG_LAYOUT: its name, its zod schema (which says what it
// expects and gives its default) and, by where it stands, its place in Config. Config's type is
// the schemas' output in that layout; the variables are checked as one flat zod object, so an
// error names the variable. The kinds of value they take live in config-values.ts.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { SLACK_CHANNEL_ID } from '../lib/slack-ids.ts';
import {
  boolText,
  duration,
  isBareOrigin,
  nodeMap,
  optional,
  optionalDuration,
  PORT_RANGES_HINT,
  PUBLIC_URL_HINT,
  parsePortRanges,
  placementList,
  positiveInt,
  slackIdList,
} from './config-values.ts';
import { quietHoursSetting } from './quiet-hours.ts';

export { type PortRange, parsePortRanges } from './config-values.ts';

/** One environment variable: its name, and how its text is read (what it expects, its default). */
interface Variable<N extends string = string, S extends z.ZodType = z.ZodType> {
  readonly name: N;
  readonly schema: S;
}

const variable = <N extends string, S extends z.ZodType>(name: N, schema: S): Variable<N, S> => ({
  name,
  schema,
});

/** Where each variable goes in Config: a property holds one variable, or a group of them. */
interface Layout {
  readonly [property: string]: Variable | Layout;
}

/** Every variable, in the order errors name them. */
const CONFIG_LAYOUT = {
  slack: {
    signingSecret: variable('SLACK_SIGNING_SECRET', optional(z.string())),
    botToken: variable(
      'SLACK_BOT_TOKEN',
      optional(z.string().startsWith('xoxb-', { message: 'expected a bot token starting with xoxb-' })),
    ),
    appToken: variable(
      'SLACK_APP_TOKEN',
      optional(
        z.string().startsWith('xapp-', { message: 'expected an app-level token starting with xapp-' }),
      ),
    ),
    apiUrl: variable(
      'SLACK_API_URL',
      optional(z.url({ message: 'expected a URL like https://slack.com/api/' })),
    ),
  },
  httpPort: variable(
    'HTTP_PORT',
    positiveInt('3000', 'a TCP port number').pipe(
      z.number().int().min(0, 'expected a TCP port 0-65535').max(65535, 'expected a TCP port 0-65535'),
    ),
  ),
  /** The address /slack/events, /healthz and /metrics listen on; unset: all interfaces. */
  httpBind: variable(
    'HTTP_BIND',
    optional(
      z.union([z.ipv4(), z.ipv6()], { message: 'expected an IP address like 127.0.0.1 or ::1, or empty' }),
    ),
  ),
  dockerHost: variable(
    'DOCKER_HOST',
    optional(
      z
        .string()
        .regex(
          /^(unix:\/\/\S*|(tcp|http):\/\/[^\s/:@]+(:\d{1,5})?\/?|ssh:\/\/([^\s/:@]+@)?[^\s/:@]+(:\d{1,5})?\/?|[^\s/:]+:\d{1,5})$/,
          'expected unix:///path/to/docker.sock, tcp://host:port or ssh://user@host[:port]',
        ),
    ),
  ),
  /** As the docker CLI reads it: set to anything (even 0), TLS with the server verified. */
  dockerTlsVerify: variable(
    'DOCKER_TLS_VERIFY',
    z
      .string()
      .default('')
      .transform((text) => text !== ''),
  ),
  /** ca.pem, cert.pem, key.pem for TLS; ~/.docker when unset. */
  dockerCertPath: variable('DOCKER_CERT_PATH', optional(z.string())),
  /** How long one quick engine call (list, inspect, create, start, remove, stats) may take. */
  dockerCallTimeoutMs: variable('DOCKER_CALL_TIMEOUT', duration('10s')),
  /** For DOCKER_HOST=ssh://...: the key, the known hosts the host must be in, the agent. */
  ssh: {
    keyFile: variable('SPREADSERVE_SSH_KEY', optional(z.string())),
    knownHostsFile: variable('SPREADSERVE_SSH_KNOWN_HOSTS', optional(z.string())),
    agentSocket: variable('SSH_AUTH_SOCK', optional(z.string())),
  },
  dataFile: variable('SPREADSERVE_DATA', z.string().min(1).default('./data/spreadserve.json')),
  templatesFile: variable('SPREADSERVE_TEMPLATES', z.string().min(1).default('./spreadserve.templates.yml')),
  /** Templates made by `save`; saved-templates.yml beside the store when unset. */
  savedTemplatesFile: variable('SPREADSERVE_SAVED_TEMPLATES', optional(z.string())),
  ports: variable(
    'SPREADSERVE_PORTS',
    z
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
  ),
  bindIp: variable(
    'SPREADSERVE_BIND_IP',
    z
      .union([z.ipv4(), z.ipv6()], { message: 'expected an IP address like 0.0.0.0 or 127.0.0.1' })
      .default('0.0.0.0'),
  ),
  /** Instances per bridge network of the bot's (core/networks.ts): a Linux bridge holds 1024 ports. */
  networkSize: variable(
    'SPREADSERVE_NETWORK_SIZE',
    positiveInt('1000', 'a whole number 1-1023').refine((n) => n >= 1 && n <= 1023, {
      message: 'expected a whole number 1-1023 (a Linux bridge holds at most 1024 ports)',
    }),
  ),
  /** docker: one engine (DOCKER_HOST); swarm: DOCKER_HOST is a swarm manager, each instance a
   * service placed on a node by the bot (engine/swarm.ts). */
  engine: variable('SPREADSERVE_ENGINE', z.enum(['docker', 'swarm']).default('docker')),
  /** Swarm: the constraints every instance's node must meet (a template's `placement` replaces them). */
  placement: variable('SPREADSERVE_PLACEMENT', placementList),
  /** Swarm: the address users reach each node's ports at, by node hostname (else the node's own). */
  nodeAddresses: variable('SPREADSERVE_NODE_ADDRESSES', nodeMap('address', /^[A-Za-z0-9.:[\]-]+$/)),
  /** Swarm: each node's own engine, by hostname (DOCKER_HOST syntax; tcp with DOCKER_TLS_VERIFY
   * uses the same certificates): for activity samples and copying images to it. */
  nodeEndpoints: variable(
    'SPREADSERVE_NODE_ENDPOINTS',
    nodeMap(
      'engine',
      /^(unix:\/\/\S+|tcp:\/\/[^\s/:@]+(:\d{1,5})?|ssh:\/\/([^\s/:@]+@)?[^\s/:@]+(:\d{1,5})?)$/,
    ),
  ),
  /** Containers of this bot carry org.spreadserve.scope=<scope>; two bots on one host keep apart. */
  scope: variable(
    'SPREADSERVE_SCOPE',
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'expected a short lowercase id like default or staging')
      .default('default'),
  ),
  publicUrl: variable(
    'SPREADSERVE_PUBLIC_URL',
    z
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
  ),
  admins: variable('SPREADSERVE_ADMINS', slackIdList),
  users: variable('SPREADSERVE_USERS', slackIdList),
  maxInstancesPerUser: variable('MAX_INSTANCES_PER_USER', positiveInt('3', 'a whole number (0 = no limit)')),
  reclaim: {
    cron: variable(
      'RECLAIM_CRON',
      z
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
    ),
    idleTimeoutMs: variable('IDLE_TIMEOUT', duration('2h')),
    idleWarningMs: variable('IDLE_WARNING', duration('15m')),
    idleBytesFloor: variable('IDLE_BYTES_FLOOR', positiveInt('16384', 'a number of bytes')),
    maxLifetimeMs: variable('MAX_LIFETIME', optionalDuration),
    maxExtendMs: variable('MAX_EXTEND', optionalDuration),
    quietHours: variable('QUIET_HOURS', quietHoursSetting),
    dryRun: variable('RECLAIM_DRY_RUN', boolText),
    sampler: variable('SPREADSERVE_SAMPLER', z.enum(['auto', 'host', 'stats']).default('auto')),
  },
  buildTimeoutMs: variable('BUILD_TIMEOUT', duration('30m')),
  opsChannel: variable(
    'OPS_CHANNEL',
    optional(z.string().regex(SLACK_CHANNEL_ID, 'expected a Slack channel id like C0123ABC')),
  ),
  usageCron: variable(
    'USAGE_CRON',
    optional(
      z.string().refine((text) => [5, 6].includes(text.trim().split(/\s+/).length), {
        message: 'expected a cron expression like "0 9 * * 1" (5 fields, or 6 with seconds)',
      }),
    ),
  ),
  logLevel: variable(
    'LOG_LEVEL',
    z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  ),
} as const satisfies Layout;

/** A layout's values: each variable's schema output; one that may be unset is an optional property. */
type Read<T> = T extends Variable<string, infer S> ? z.output<S> : Group<T>;
type Group<L> = Flat<
  { -readonly [K in keyof L as undefined extends Read<L[K]> ? never : K]: Read<L[K]> } & {
    -readonly [K in keyof L as undefined extends Read<L[K]> ? K : never]?: Exclude<Read<L[K]>, undefined>;
  }
>;
type Flat<T> = { [K in keyof T]: T[K] };
type NameOf<T> = T extends Variable<infer N> ? N : { [K in keyof T]: NameOf<T[K]> }[keyof T];

export type Config = Read<typeof CONFIG_LAYOUT>;

function variablesOf(layout: Layout): Variable[] {
  return Object.values(layout).flatMap((entry) => (isVariable(entry) ? [entry] : variablesOf(entry)));
}

function isVariable(entry: Variable | Layout): entry is Variable {
  return entry.schema instanceof z.ZodType;
}

/** The checked variables (by name) placed as the layout says. */
function place(layout: Layout, values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(layout).map(([property, entry]) => [
      property,
      isVariable(entry) ? values[entry.name] : place(entry, values),
    ]),
  );
}

const variables = variablesOf(CONFIG_LAYOUT);

/** The variables as one flat object, then placed: Config is this schema's output. */
const configSchema = z
  .object(Object.fromEntries(variables.map((v) => [v.name, v.schema])))
  // The layout's types are checked above; its walk is not typed, hence the cast.
  .transform((values) => place(CONFIG_LAYOUT, values) as Config);

/** The variables the schema knows, for `.env.example` checks and docs. */
export const CONFIG_VARIABLES = variables.map((v) => v.name) as NameOf<typeof CONFIG_LAYOUT>[];

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
  return result.data;
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
