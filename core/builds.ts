// Builds a template's image with its strategy: `dockerfile` (one-shot build, build-dockerfile.ts)
// or `commit` (the tech note's two steps, build-commit.ts). This service holds what both share:
// one build per template at a time, BUILD_TIMEOUT, progress callbacks and the build history.
//
// Progress: each step is reported once, as it starts, with an overall counter.
import type { BuildProgress, ContainerEngine, ImageInfo } from '../engine/types.ts';
import type { Clock } from '../lib/clock.ts';
import { formatDuration } from '../lib/duration.ts';
import { describeError, UserError } from '../lib/errors.ts';
import { formatUtc, relativeTime } from '../lib/format.ts';
import type { Logger } from '../lib/log.ts';
import type { BuildRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { audit } from './audit.ts';
import { buildByCommit } from './build-commit.ts';
import { buildWithDockerfile } from './build-dockerfile.ts';
import { type Actor, requireAdmin } from './policy.ts';
import {
  assertRunsOn,
  findTemplate,
  type Template,
  type TemplateBuild,
  type TemplateSet,
} from './templates.ts';

export interface BuildDeps {
  store: Store;
  engine: ContainerEngine;
  templates: TemplateSet;
  clock: Clock;
  log: Logger;
  scope: string;
  buildTimeoutMs: number;
}

export interface BuildRequest {
  actor: Actor;
  template: string;
  noCache?: boolean;
  /** Each step as it starts: one line, and the overall step counter when known. */
  onProgress?: (progress: BuildProgress) => void;
}

export interface BuildResult {
  template: Template;
  image: ImageInfo;
  durationMs: number;
}

export interface RunningBuild {
  by: string;
  at: number;
}

/** One finished build, for the history: the image when it succeeded, the error when not. */
type FinishedBuild = Pick<BuildRecord, 'template' | 'by' | 'startedAt' | 'durationMs' | 'outcome'> & {
  image?: ImageInfo;
  error?: unknown;
};

/** The history keeps this many builds, the newest. */
const HISTORY_LIMIT = 1000;

/** "12s ago (14:02:07 UTC)": when a running build started, for the one who has to wait. */
function startedWhen(at: number, now: number): string {
  return `${relativeTime(now, at)} (${formatUtc(at, 'clock')})`;
}

export class Builds {
  /** Running builds by template: who started each and when. */
  private readonly running = new Map<string, RunningBuild>();

  constructor(private readonly deps: BuildDeps) {}

  async build(request: BuildRequest): Promise<BuildResult> {
    const { templates, clock, store } = this.deps;
    requireAdmin(request.actor, 'build images');
    const template = findTemplate(templates, request.template);
    const { build } = template;
    if (!build) throw new UserError('not-found', `Template ${template.name} has no build section.`);
    // A Windows image builds only on a Windows engine, and a Linux one only on Linux.
    assertRunsOn(template, await this.deps.engine.platform());
    store.assertWritable();
    // No await between this check and the set below: two requests cannot both pass it.
    const current = this.running.get(template.name);
    if (current) {
      throw new UserError(
        'conflict',
        `${template.name} is already being built by ${current.by}, started ${startedWhen(current.at, clock.now())}; ` +
          'wait for it to finish.',
      );
    }
    const startedAt = clock.now();
    this.running.set(template.name, { by: request.actor.id, at: startedAt });
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.deps.buildTimeoutMs);
    timer.unref?.();
    const report = this.reporter(template, request.onProgress);
    const finished = { template: template.name, by: request.actor.id, startedAt };
    try {
      const image = await this.run(template, build, request, timeout.signal, report);
      const durationMs = clock.now() - startedAt;
      await this.record({ ...finished, durationMs, outcome: 'success', image });
      return { template, image, durationMs };
    } catch (err) {
      const timedOut = timeout.signal.aborted;
      const durationMs = clock.now() - startedAt;
      await this.record({ ...finished, durationMs, outcome: timedOut ? 'timeout' : 'failed', error: err });
      if (timedOut) {
        throw new UserError(
          'timeout',
          `The build of ${template.name} ran past BUILD_TIMEOUT (${formatDuration(this.deps.buildTimeoutMs)}); ` +
            'it was stopped and cleaned up, and nothing was tagged.',
          [],
          { cause: err },
        );
      }
      throw err;
    } finally {
      clearTimeout(timer);
      this.running.delete(template.name);
    }
  }

  runningBuild(template: string): RunningBuild | undefined {
    return this.running.get(template);
  }

  /** Progress callbacks are the caller's: one that throws must not break the build. */
  private reporter(
    template: Template,
    onProgress: BuildRequest['onProgress'],
  ): (progress: BuildProgress) => void {
    return (progress) => {
      try {
        onProgress?.(progress);
      } catch (err) {
        this.deps.log.warn({ template: template.name, err: describeError(err) }, 'a progress callback threw');
      }
    };
  }

  /** The template's own strategy, with what it needs. */
  private run(
    template: Template,
    build: TemplateBuild,
    request: BuildRequest,
    signal: AbortSignal,
    report: (progress: BuildProgress) => void,
  ): Promise<ImageInfo> {
    const { engine, log, scope } = this.deps;
    const run = { template, engine, log, scope, noCache: request.noCache, signal, report };
    return build.strategy === 'dockerfile'
      ? buildWithDockerfile({ ...run, build })
      : buildByCommit({ ...run, build });
  }

  private async record(finished: FinishedBuild): Promise<void> {
    const { image, error, ...build } = finished;
    try {
      await this.deps.store.update((doc) => {
        doc.builds.push({
          ...build,
          imageId: image?.id,
          sizeBytes: image?.sizeBytes,
          error: error === undefined ? undefined : describeError(error),
        });
        if (doc.builds.length > HISTORY_LIMIT) doc.builds.splice(0, doc.builds.length - HISTORY_LIMIT);
        const { template, by, startedAt, outcome } = build;
        audit(doc, { at: startedAt, actor: by, action: 'build', template, reason: outcome });
      });
    } catch (recordErr) {
      this.deps.log.error(
        { template: build.template, err: describeError(recordErr) },
        'could not record a build',
      );
    }
  }
}
