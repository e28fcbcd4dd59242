// Templates made by `save` (core/snapshots.ts): kept in a second YAML file the bot writes, so the
// templates file people edit is never rewritten behind their back. The file has the templates
// file's format (validated by the same parseTemplates) plus a `saved:` section saying where each
// one came from. The set every service reads is one Map, the templates file's templates first and
// then the saved ones; a save updates it in place, so launch and the catalogue see it at once.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import type { Logger } from '../lib/log.ts';
import { NAME_RE } from '../lib/names.ts';
import { DurableTextFile } from '../store/durable-file.ts';
import { type Config, ConfigError } from './config.ts';
import { POLICY_FIELDS, parseTemplates, type Template, type TemplateSet } from './templates.ts';

/** Where a saved template came from. */
export interface SavedOrigin {
  /** The instance whose container was committed. */
  instance: string;
  /** The template that instance was launched from. */
  template: string;
  by: string;
  at: number;
}

export interface SavedTemplate {
  template: Template;
  /** Absent for an entry someone added to the file by hand. */
  origin?: SavedOrigin;
}

/** SPREADSERVE_SAVED_TEMPLATES, else saved-templates.yml beside the store. */
export function savedTemplatesPath(config: Pick<Config, 'dataFile' | 'savedTemplatesFile'>): string {
  return config.savedTemplatesFile ?? path.join(path.dirname(config.dataFile), 'saved-templates.yml');
}

const originsSchema = z
  .object({
    saved: z
      .record(
        z.string().regex(NAME_RE),
        z.object({ instance: z.string(), template: z.string(), by: z.string(), at: z.iso.datetime() }),
      )
      .default({}),
  })
  .loose();

/** Parses the saved templates file's text, validated as the templates file is. */
export function parseSaved(text: string, file: string): Map<string, SavedTemplate> {
  const source = `saved templates file ${file}`;
  const templates = parseTemplates(text, path.dirname(path.resolve(file)), source);
  const origins = originsSchema.safeParse(parseYaml(text));
  if (!origins.success) {
    throw new ConfigError(`The ${source} is invalid: its saved section: ${origins.error.issues[0]?.message}`);
  }
  const saved = new Map<string, SavedTemplate>();
  for (const [name, template] of templates) {
    const o = Object.hasOwn(origins.data.saved, name) ? origins.data.saved[name] : undefined;
    saved.set(name, { template, ...(o ? { origin: { ...o, at: Date.parse(o.at) } } : {}) });
  }
  return saved;
}

const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
] as const;

/** Milliseconds as the templates file writes a duration (the largest unit that divides it). */
function durationField(ms: number): string {
  for (const [unit, size] of UNITS) {
    if (ms % size === 0 && ms / size <= 999_999) return `${ms / size}${unit}`;
  }
  return `${Math.max(1, Math.round(ms / 1_000))}s`;
}

/** A template as the templates file writes it: parseTemplates of this gives it back. */
export function templateFields(t: Template): Record<string, unknown> {
  const mib = 1024 ** 2;
  const policy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(t.policy)) {
    const field = POLICY_FIELDS[key as keyof typeof POLICY_FIELDS].field;
    policy[field] = key.endsWith('Ms') ? durationField(value) : value;
  }
  return {
    description: t.description,
    image: t.image,
    containerPort: t.containerPort,
    env: t.env,
    ...(t.command ? { command: t.command } : {}),
    healthPath: t.healthPath,
    startTimeout: durationField(t.startTimeoutMs),
    memory: t.memoryBytes % mib === 0 ? `${t.memoryBytes / mib}m` : t.memoryBytes,
    cpus: t.nanoCpus / 1e9,
    ...(t.platform === 'linux' ? { pids: t.pidsLimit } : {}),
    ...(t.readOnly ? { readOnly: true } : {}),
    ...(t.user !== undefined ? { user: t.user } : {}),
    platform: t.platform,
    ...(t.isolation !== undefined ? { isolation: t.isolation } : {}),
    ...(t.placement !== undefined ? { placement: t.placement } : {}),
    ...policy,
  };
}

const HEADER =
  '# Templates saved from running instances by `save <name> --as <template>`. Written by the bot:\n' +
  '# edits made while it runs are overwritten by its next save. Same format as the templates file.\n';

/** The saved templates file's text. */
export function serializeSaved(entries: Iterable<SavedTemplate>): string {
  const templates: Record<string, unknown> = {};
  const saved: Record<string, unknown> = {};
  for (const { template, origin } of entries) {
    templates[template.name] = templateFields(template);
    if (origin) saved[template.name] = { ...origin, at: new Date(origin.at).toISOString() };
  }
  return HEADER + stringifyYaml({ templates, saved });
}

/** The templates file's templates, then the saved ones; a saved name the file also has is left out
 * (the file wins) and returned in `shadowed`. */
export function mergeTemplates(
  main: TemplateSet,
  saved: ReadonlyMap<string, SavedTemplate>,
): { all: Map<string, Template>; shadowed: string[] } {
  const all = new Map(main);
  const shadowed: string[] = [];
  for (const [name, entry] of saved) {
    if (main.has(name)) shadowed.push(name);
    else all.set(name, entry.template);
  }
  return { all, shadowed };
}

export class SavedTemplates {
  /** The one template set the services share: updated in place by put(). */
  readonly all: Map<string, Template>;
  private readonly file: DurableTextFile;

  private constructor(
    private readonly main: TemplateSet,
    private readonly saved: Map<string, SavedTemplate>,
    /** The saved templates file. */
    readonly location: string,
  ) {
    this.all = mergeTemplates(main, saved).all;
    this.file = new DurableTextFile(location);
  }

  /** Reads the file (none yet: no saved templates); a file failing validation stops the bot. */
  static async open(main: TemplateSet, file: string, log: Logger): Promise<SavedTemplates> {
    const text = await new DurableTextFile(file).read();
    const saved = text === null ? new Map<string, SavedTemplate>() : parseSaved(text, file);
    for (const name of mergeTemplates(main, saved).shadowed) {
      saved.delete(name);
      log.warn(
        { file, template: name },
        'a saved template has the name of one in the templates file: ignored',
      );
    }
    return new SavedTemplates(main, saved, file);
  }

  isMain(name: string): boolean {
    return this.main.has(name);
  }

  get(name: string): SavedTemplate | undefined {
    return this.saved.get(name);
  }

  /** Adds or replaces a saved template: the file first, then the shared set. */
  async put(entry: SavedTemplate): Promise<void> {
    const name = entry.template.name;
    if (this.main.has(name)) throw new Error(`saved template ${name} would shadow the templates file`);
    const next = new Map(this.saved).set(name, entry);
    await mkdir(path.dirname(this.location), { recursive: true });
    await this.file.write(serializeSaved(next.values()));
    this.saved.set(name, entry);
    this.all.set(name, entry.template);
  }
}
