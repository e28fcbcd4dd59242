// The templates file: YAML, validated by zod; an error names the template and the field.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { EngineOs, EnginePlatform, WindowsIsolation } from '../engine/types.ts';
import { DURATION_HINT, durationSchema } from '../lib/duration.ts';
import { UserError } from '../lib/errors.ts';
import { type Config, ConfigError } from './config.ts';
import { PLACEMENT_HINT, PLACEMENT_RE } from './config-values.ts';
import { NAME_RE } from './labels.ts';

const memoryRe = /^(\d+)([kmg])?$/i;
const MEMORY_UNITS = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;

/** "256m" -> bytes; null when malformed. */
export function parseMemory(text: string): number | null {
  const m = memoryRe.exec(text.trim());
  if (!m) return null;
  const unit = m[2]?.toLowerCase() as keyof typeof MEMORY_UNITS | undefined;
  return Number(m[1]) * (unit ? MEMORY_UNITS[unit] : 1);
}

/** How a template's image is built: what each strategy needs, it has. */
export type TemplateBuild = DockerfileBuild | CommitBuild;

interface BuildSource {
  /** Absolute path of the build context. */
  context: string;
  dockerfile: string;
}

/** One `docker build` of the Dockerfile makes the image. */
export interface DockerfileBuild extends BuildSource {
  strategy: 'dockerfile';
}

/** The Dockerfile makes a step-one image, `install` runs in it, the container is committed. */
export interface CommitBuild extends BuildSource {
  strategy: 'commit';
  install: string[];
}

const buildFields = z
  .object({
    strategy: z.enum(['dockerfile', 'commit']).default('dockerfile'),
    context: z.string().min(1),
    dockerfile: z.string().min(1).default('Dockerfile'),
    install: z.array(z.string()).min(1).optional(),
  })
  .strict();

/** The build section as its strategy's type; undefined for the commit strategy without install. */
function exactBuild({ strategy, context, dockerfile, install }: z.output<typeof buildFields>) {
  if (strategy === 'dockerfile') return { strategy, context, dockerfile } satisfies DockerfileBuild;
  return install && ({ strategy, context, dockerfile, install } satisfies CommitBuild);
}

const buildSchema = buildFields
  // Said by a refine, not by the transform: a refine runs even when another field has an issue,
  // so one message names both.
  .refine((b) => exactBuild(b) !== undefined, {
    message: 'the commit strategy needs an install command',
    path: ['install'],
  })
  // Reached only when every check passed, so exactBuild always answers here.
  .transform((b): TemplateBuild => exactBuild(b) ?? z.NEVER);

const policyDuration = z
  .string(`expected ${DURATION_HINT}`)
  .pipe(durationSchema(() => `expected ${DURATION_HINT}`))
  .optional();

const templateSchema = z
  .object({
    description: z.string().default(''),
    image: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._/-]*(:[\w.-]+)?$/, 'expected an image tag like spreadserve/demo:0.3.1'),
    build: buildSchema.optional(),
    containerPort: z.number().int().min(1).max(65535).default(80),
    env: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names look like SSROOT or MY_VAR'),
        z.union([z.string(), z.number()], 'expected a string or a number'),
      )
      .default({}),
    command: z.array(z.string()).min(1).optional(),
    healthPath: z.string().startsWith('/').default('/'),
    /** How long a launch waits for the health path to answer. */
    startTimeout: z
      .string()
      .default('60s')
      .pipe(durationSchema(() => `expected ${DURATION_HINT}`)),
    memory: z
      .union([z.string(), z.number()])
      .optional()
      .refine(
        (v) => v === undefined || (parseMemory(String(v)) ?? 0) >= 6 * 1024 ** 2,
        'expected a size like 256m or 1g (at least 6m)',
      ),
    cpus: z.number().positive().max(64).optional(),
    /** Processes and threads the container may hold (Linux only). */
    pids: z.number().int().min(16).max(65536).optional(),
    /** Read-only root file system, a tmpfs on /tmp staying writable (Linux only). */
    readOnly: z.boolean().optional(),
    /** Run as this user instead of the image's: "uid[:gid]" on Linux, a user name on Windows. */
    user: z.string().optional(),
    /** The engine the template's image runs on: a Windows image needs a Windows Docker host. */
    platform: z.enum(['linux', 'windows']).default('linux'),
    /** Windows only: process isolation (the host's kernel) or Hyper-V (a utility VM each). */
    isolation: z.enum(['process', 'hyperv']).optional(),
    /** Swarm only: the constraints its instances' node must meet, in place of SPREADSERVE_PLACEMENT. */
    placement: z.array(z.string().regex(PLACEMENT_RE, `expected ${PLACEMENT_HINT}`)).optional(),
    // The reclaim policy and quota of its instances; each one absent is its global default.
    idleTimeout: policyDuration,
    idleWarning: policyDuration,
    maxLifetime: policyDuration,
    maxPerUser: z.number('expected a whole number (0 = no limit)').int().min(0).optional(),
    bytesFloor: z.number('expected a whole number of bytes').int().min(0).optional(),
  })
  // A misspelt field (memmory, containerport) would otherwise be dropped silently.
  .strict()
  .superRefine(checkPlatformFields)
  // Only when both are the template's own (and read): the global IDLE_TIMEOUT may change apart from it.
  .refine(
    (t) =>
      typeof t.idleWarning !== 'number' || typeof t.idleTimeout !== 'number' || t.idleWarning < t.idleTimeout,
    { message: 'the warning must be shorter than idleTimeout', path: ['idleWarning'] },
  );

const LINUX_USER_RE = /^\d{1,10}(:\d{1,10})?$/;
/** A local account name such as ContainerUser or ContainerAdministrator. */
const WINDOWS_USER_RE = /^[A-Za-z][\w.-]{0,63}$/;

/** The fields whose meaning depends on the platform, each refused by name where it has none. */
function checkPlatformFields(
  t: { platform: 'linux' | 'windows'; isolation?: string; readOnly?: boolean; pids?: number; user?: string },
  ctx: z.RefinementCtx,
): void {
  const refuse = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
  if (t.platform === 'linux') {
    if (t.isolation !== undefined)
      refuse('isolation', 'isolation is for Windows templates (platform: windows)');
    if (t.user !== undefined && !LINUX_USER_RE.test(t.user)) {
      refuse('user', 'expected a numeric user like "1000" or "1000:1000"');
    }
    return;
  }
  if (t.readOnly) refuse('readOnly', 'Windows containers have no read-only root file system');
  if (t.pids !== undefined) refuse('pids', 'Windows containers take no processes limit');
  if (t.user !== undefined && !WINDOWS_USER_RE.test(t.user)) {
    refuse('user', 'expected a Windows user name like ContainerUser or ContainerAdministrator');
  }
}

const fileSchema = z.object({
  templates: z.record(
    z.string().regex(NAME_RE, 'template names look like demo or my-server'),
    templateSchema,
  ),
});

export interface Template {
  name: string;
  description: string;
  image: string;
  /** Absent when the templates file gives none: the image must exist already. */
  build?: TemplateBuild;
  containerPort: number;
  env: Record<string, string>;
  command?: string[];
  healthPath: string;
  startTimeoutMs: number;
  /** Effective limits: the template's own, else TEMPLATE_DEFAULTS. Swap is set equal to memory. */
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
  readOnly: boolean;
  user?: string;
  /** The engine platform the image runs on. */
  platform: EngineOs;
  /** Windows only; the engine's default isolation when absent. */
  isolation?: WindowsIsolation;
  /** Swarm only: where its instances may run (Swarm constraints); SPREADSERVE_PLACEMENT when absent. */
  placement?: string[];
  /** The reclaim and quota settings it sets itself; policyFor fills in the global defaults. */
  policy: Partial<Record<PolicyField, number>>;
}

/** Each setting a template may set for its instances (named as in Config) as people read it: its
 * words, its templates-file field, its global variable. */
export const POLICY_FIELDS = {
  idleTimeoutMs: { words: 'idle timeout', field: 'idleTimeout', global: 'IDLE_TIMEOUT' },
  idleWarningMs: { words: 'warning', field: 'idleWarning', global: 'IDLE_WARNING' },
  idleBytesFloor: { words: 'floor', field: 'bytesFloor', global: 'IDLE_BYTES_FLOOR' },
  maxLifetimeMs: { words: 'max lifetime', field: 'maxLifetime', global: 'MAX_LIFETIME' },
  maxPerUser: { words: 'per user', field: 'maxPerUser', global: 'MAX_INSTANCES_PER_USER' },
} as const satisfies Record<string, { words: string; field: string; global: string }>;

export type PolicyField = keyof typeof POLICY_FIELDS;

/** The settings an instance of a template lives by: the template's own, else the global ones. */
export interface EffectivePolicy {
  template: string;
  idleTimeoutMs: number;
  idleWarningMs: number;
  idleBytesFloor: number;
  /** No lifetime cap when absent. */
  maxLifetimeMs?: number;
  /** 0: no limit. The template's own counts its instances only; the default counts all of them. */
  maxPerUser: number;
  /** The fields the template set itself. */
  own: ReadonlySet<PolicyField>;
}

export type PolicyDefaults = Pick<Config, 'maxInstancesPerUser'> & {
  reclaim: Pick<Config['reclaim'], 'idleTimeoutMs' | 'idleWarningMs' | 'idleBytesFloor' | 'maxLifetimeMs'>;
};

/** The policy of the named template's instances; one no longer in the file lives by the defaults. */
export function policyFor(templates: TemplateSet, name: string, defaults: PolicyDefaults): EffectivePolicy {
  const own = templates.get(name)?.policy ?? {};
  const { idleTimeoutMs, idleWarningMs, idleBytesFloor, maxLifetimeMs } = defaults.reclaim;
  return {
    template: name,
    idleTimeoutMs: own.idleTimeoutMs ?? idleTimeoutMs,
    idleWarningMs: own.idleWarningMs ?? idleWarningMs,
    idleBytesFloor: own.idleBytesFloor ?? idleBytesFloor,
    maxLifetimeMs: own.maxLifetimeMs ?? maxLifetimeMs,
    maxPerUser: own.maxPerUser ?? defaults.maxInstancesPerUser,
    own: new Set(Object.keys(own) as PolicyField[]),
  };
}

/** Where a setting came from: "template gpu" or "default". */
export function policySource(p: Pick<EffectivePolicy, 'template' | 'own'>, field: PolicyField): string {
  return p.own.has(field) ? `template ${p.template}` : 'default';
}

/** How a limit is named in a sentence: "MAX_LIFETIME", or "maxLifetime of template gpu". */
export function limitName(p: Pick<EffectivePolicy, 'template' | 'own'>, field: PolicyField): string {
  const f = POLICY_FIELDS[field];
  return p.own.has(field) ? `${f.field} of template ${p.template}` : f.global;
}

/** The limits of a template that sets none of its own (documented in the README). */
export const TEMPLATE_DEFAULTS = { memory: '512m', cpus: 1, pids: 256 } as const;

export type TemplateSet = ReadonlyMap<string, Template>;

/** The named template (the first one when no name is given), or a UserError listing the known ones. */
export function findTemplate(templates: TemplateSet, name: string | undefined): Template {
  const chosen = name ?? templates.keys().next().value;
  const template = chosen === undefined ? undefined : templates.get(chosen);
  if (!template) {
    const known = [...templates.keys()].join(', ') || 'none';
    throw new UserError('not-found', `There is no template "${name}"; known templates: ${known}.`);
  }
  return template;
}

const OS_NAME = { linux: 'Linux', windows: 'Windows' } as const;

/** Refuses, before anything is reserved or created, a template whose image the engine cannot run. */
export function assertRunsOn(template: Template, engine: EnginePlatform): void {
  if (template.platform === engine.os) return;
  throw new UserError(
    'usage',
    `Template ${template.name} needs a ${OS_NAME[template.platform]} Docker host; ` +
      `this engine (${engine.host}) runs ${OS_NAME[engine.os]}.`,
  );
}

/** Parses the templates file's text; relative build contexts are resolved against baseDir. */
export function parseTemplates(text: string, baseDir: string, source = 'templates file'): TemplateSet {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`The ${source} is not valid YAML: ${(err as Error).message}`);
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      // A bad template name is reported as "Invalid key in record"; its own message is inside.
      const message =
        issue.code === 'invalid_key' && issue.issues.length > 0
          ? issue.issues.map((inner) => inner.message).join('; ')
          : issue.message;
      const [top, name, ...field] = issue.path.map(String);
      if (top === 'templates' && name !== undefined) {
        return `  template "${name}"${field.length ? `, field ${field.join('.')}` : ''}: ${message}`;
      }
      return `  ${issue.path.join('.') || 'top level'}: ${message}`;
    });
    throw new ConfigError(`The ${source} is invalid:\n${lines.join('\n')}`);
  }
  const set = new Map<string, Template>();
  for (const [name, t] of Object.entries(result.data.templates)) {
    set.set(name, {
      name,
      description: t.description,
      image: t.image,
      build: t.build && { ...t.build, context: path.resolve(baseDir, t.build.context) },
      containerPort: t.containerPort,
      env: Object.fromEntries(Object.entries(t.env).map(([k, v]) => [k, String(v)])),
      command: t.command,
      healthPath: t.healthPath,
      startTimeoutMs: t.startTimeout,
      memoryBytes: parseMemory(String(t.memory ?? TEMPLATE_DEFAULTS.memory)) ?? 0,
      nanoCpus: Math.round((t.cpus ?? TEMPLATE_DEFAULTS.cpus) * 1e9),
      pidsLimit: t.pids ?? TEMPLATE_DEFAULTS.pids,
      readOnly: t.readOnly ?? false,
      ...(t.user !== undefined ? { user: t.user } : {}),
      platform: t.platform,
      ...(t.isolation !== undefined ? { isolation: t.isolation } : {}),
      ...(t.placement !== undefined ? { placement: t.placement } : {}),
      policy: ownPolicy(t),
    });
  }
  return set;
}

/** The policy settings a parsed template sets, keyed as in Config. */
function ownPolicy(t: z.output<typeof templateSchema>): Template['policy'] {
  const values: Record<PolicyField, number | undefined> = {
    idleTimeoutMs: t.idleTimeout,
    idleWarningMs: t.idleWarning,
    idleBytesFloor: t.bytesFloor,
    maxLifetimeMs: t.maxLifetime,
    maxPerUser: t.maxPerUser,
  };
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

export async function loadTemplates(file: string): Promise<TemplateSet> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `Cannot read the templates file ${file} (${(err as NodeJS.ErrnoException).code ?? err}); set SPREADSERVE_TEMPLATES to its path.`,
    );
  }
  return parseTemplates(text, path.dirname(path.resolve(file)), `templates file ${file}`);
}
