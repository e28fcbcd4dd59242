// `save <name> --as <template>`: the tech note's commit step applied to a running instance. Its
// container is committed (with its template's command, environment and port) to a new tag,
// spreadserve-saved/<template>:<time>, and a saved template (core/saved-templates.ts) launching
// that image, with the source template's settings, is added or replaced. One save per target
// template at a time; progress and failures are reported as builds report theirs.
import type { BuildProgress, ContainerEngine, ImageInfo } from '../engine/types.ts';
import type { Clock } from '../lib/clock.ts';
import { describeError, UserError } from '../lib/errors.ts';
import { formatUtc, relativeTime } from '../lib/format.ts';
import type { Logger } from '../lib/log.ts';
import { NAME_HINT, NAME_RE } from '../lib/names.ts';
import { isPrototypeKey, own } from '../lib/own.ts';
import type { Store } from '../store/store.ts';
import { audit } from './audit.ts';
import { type Actor, requireAdmin } from './policy.ts';
import type { SavedTemplates } from './saved-templates.ts';
import type { Template } from './templates.ts';

export interface SnapshotDeps {
  store: Store;
  engine: ContainerEngine;
  saved: SavedTemplates;
  /** Instances whose launch is still in progress. */
  launching: ReadonlySet<string>;
  clock: Clock;
  log: Logger;
}

export interface SaveRequest {
  actor: Actor;
  instance: string;
  /** The saved template's name. */
  as: string;
  onProgress?: (progress: BuildProgress) => void;
}

export interface SaveResult {
  template: Template;
  image: ImageInfo;
  durationMs: number;
  /** The image the saved template launched before, when it was replaced: removed or kept. */
  previous?: { image: string; removed: boolean };
}

/** "20261129-210102-345": a new tag per save, sorting by time. */
export function savedTag(template: string, at: number): string {
  const stamp = new Date(at).toISOString().replace(/[-:]/g, '').replace('T', '-').replace('.', '-');
  return `spreadserve-saved/${template}:${stamp.slice(0, -1)}`;
}

const STEPS = 3;

export class Snapshots {
  /** Saves running, by target template: who started each and when. */
  private readonly running = new Map<string, { by: string; at: number }>();

  constructor(private readonly deps: SnapshotDeps) {}

  /** The saved templates, for `templates` to say where each came from. */
  get saved(): SavedTemplates {
    return this.deps.saved;
  }

  async save(request: SaveRequest): Promise<SaveResult> {
    const { store, saved, clock } = this.deps;
    requireAdmin(request.actor, 'save instances as templates');
    const { as, instance } = request;
    if (!NAME_RE.test(as) || isPrototypeKey(as)) {
      throw new UserError('usage', `"${as.slice(0, 40)}" cannot name a template: ${NAME_HINT}.`);
    }
    if (saved.isMain(as)) {
      throw new UserError(
        'conflict',
        `${as} is a template of the templates file, which save never changes; choose another name for --as.`,
      );
    }
    const record = own(store.read().instances, instance);
    if (!record) {
      throw new UserError('not-found', `There is no instance "${instance.slice(0, 40)}"; see list all.`);
    }
    if (record.state === 'starting' || this.deps.launching.has(instance) || !record.containerId) {
      throw new UserError('conflict', `${instance} is still starting; save it once it is up.`);
    }
    const source = saved.all.get(record.template);
    if (!source) {
      throw new UserError(
        'not-found',
        `${instance} was launched from template ${record.template}, which is no longer known, so its settings cannot be copied.`,
      );
    }
    store.assertWritable();
    // No await between this check and the set below: two saves cannot both pass it.
    const current = this.running.get(as);
    if (current) {
      throw new UserError(
        'conflict',
        `${as} is already being saved by ${current.by}, started ${relativeTime(clock.now(), current.at)} ` +
          `(${formatUtc(current.at, 'clock')}); wait for it to finish.`,
      );
    }
    const startedAt = clock.now();
    this.running.set(as, { by: request.actor.id, at: startedAt });
    try {
      return await this.commitAndRecord(request, record.containerId, source, startedAt);
    } finally {
      this.running.delete(as);
    }
  }

  private async commitAndRecord(
    request: SaveRequest,
    containerId: string,
    source: Template,
    startedAt: number,
  ): Promise<SaveResult> {
    const { engine, saved, clock, log } = this.deps;
    const { as, instance } = request;
    const report = (line: string, index: number) => {
      try {
        request.onProgress?.({ line, step: { index, total: STEPS } });
      } catch (err) {
        log.warn({ template: as, err: describeError(err) }, 'a progress callback threw');
      }
    };
    const tag = savedTag(as, startedAt);
    report(
      `Committing the container of ${instance} as ${tag} (port ${source.containerPort}, launch command set)`,
      1,
    );
    let image: ImageInfo;
    try {
      // Without a command of its own the image keeps its template image's, never a shell's.
      const command = source.command ?? (await engine.inspectImage(source.image))?.cmd ?? [];
      image = await engine.commit({
        containerId,
        tag,
        command,
        env: source.env,
        exposedPort: source.containerPort,
      });
    } catch (err) {
      await this.auditSave(request, source, startedAt, 'failed');
      if (err instanceof UserError && err.kind !== 'not-found') throw err;
      throw new UserError(
        'build-failed',
        `Committing the container of ${instance} failed (step 1/${STEPS}): ${describeError(err)}; nothing was saved.`,
        [],
        { cause: err },
      );
    }
    const previous = saved.get(as)?.template.image;
    report(`Adding template ${as} to ${saved.location}`, 2);
    const template: Template = {
      ...source,
      name: as,
      description: `Saved from ${instance}: ${source.description}`.trim(),
      image: tag,
    };
    // Its image exists: a saved template has nothing to build.
    delete template.build;
    try {
      await saved.put({
        template,
        origin: { instance, template: source.name, by: request.actor.id, at: startedAt },
      });
    } catch (err) {
      // Nothing half done: the image goes too.
      await engine.removeImage(tag).catch(() => undefined);
      await this.auditSave(request, source, startedAt, 'failed');
      throw new UserError(
        'build-failed',
        `Could not write ${saved.location} (${describeError(err)}) (step 2/${STEPS}); nothing was saved.`,
        [],
        { cause: err },
      );
    }
    let replaced: SaveResult['previous'];
    if (previous !== undefined && previous !== tag) {
      report(`Removing the previous image ${previous} unless an instance uses it`, 3);
      replaced = { image: previous, removed: await this.removeUnused(as, previous) };
    } else report(`Template ${as} launches ${tag}`, 3);
    await this.auditSave(request, source, startedAt, `success: ${tag}`);
    return {
      template,
      image,
      durationMs: clock.now() - startedAt,
      ...(replaced ? { previous: replaced } : {}),
    };
  }

  /** Removes the saved template's previous image unless one of its instances may still run it; the
   * engine refuses too while any container uses it. */
  private async removeUnused(template: string, image: string): Promise<boolean> {
    const inUse = Object.values(this.deps.store.read().instances).some((r) => r.template === template);
    if (inUse) return false;
    try {
      await this.deps.engine.removeImage(image);
      return true;
    } catch (err) {
      this.deps.log.warn({ image, err: describeError(err) }, 'kept the previous image of a saved template');
      return false;
    }
  }

  private async auditSave(
    request: SaveRequest,
    source: Template,
    at: number,
    outcome: string,
  ): Promise<void> {
    try {
      await this.deps.store.update((doc) =>
        audit(doc, {
          at,
          actor: request.actor.id,
          action: 'save',
          instance: request.instance,
          template: request.as,
          reason: `from template ${source.name}, ${outcome}`,
        }),
      );
    } catch (err) {
      this.deps.log.error({ template: request.as, err: describeError(err) }, 'could not record a save');
    }
  }
}
