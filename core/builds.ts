// Builds a template's image: `dockerfile` (one-shot build) or `commit` (the tech note's two
// steps: build an image with the installer added, run the installer silently in a container,
// commit that container with the launch command). One build per template at a time.
import type { BuildProgress, ContainerEngine, ImageInfo } from '../engine/types.ts';
import type { Store } from '../store/store.ts';
import { audit } from './audit.ts';
import type { Clock } from './clock.ts';
import { formatDuration } from './duration.ts';
import { describeError, UserError } from './errors.ts';
import { LABEL } from './labels.ts';
import type { Logger } from './log.ts';
import { type Actor, requireAdmin } from './policy.ts';
import type { Template, TemplateSet } from './templates.ts';

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
  /** Each step as it happens, one line each. */
  onProgress?: (progress: BuildProgress) => void;
}

export interface BuildResult {
  template: Template;
  image: ImageInfo;
  durationMs: number;
}

export class Builds {
  /** Running builds by template: who started each and when. */
  private readonly running = new Map<string, { by: string; at: number }>();

  constructor(private readonly deps: BuildDeps) {}

  async build(request: BuildRequest): Promise<BuildResult> {
    const { templates, clock, store } = this.deps;
    requireAdmin(request.actor, 'build images');
    const template = templates.get(request.template);
    if (!template) {
      throw new UserError(
        'not-found',
        `There is no template "${request.template}"; known templates: ${[...templates.keys()].join(', ')}.`,
      );
    }
    if (!template.build) throw new UserError('not-found', `Template ${template.name} has no build section.`);
    if (!store.writable) throw new UserError('read-only', store.readOnlyMessage!);
    const current = this.running.get(template.name);
    if (current) {
      throw new UserError(
        'conflict',
        `${template.name} is already being built by ${current.by}, started ${new Date(current.at).toISOString()}; wait for it to finish.`,
      );
    }
    const startedAt = clock.now();
    this.running.set(template.name, { by: request.actor.id, at: startedAt });
    const signal = AbortSignal.timeout(this.deps.buildTimeoutMs);
    try {
      const image = await this.run(template, request, signal);
      const durationMs = clock.now() - startedAt;
      await this.record(template.name, request.actor.id, startedAt, durationMs, 'success', image);
      return { template, image, durationMs };
    } catch (err) {
      const timedOut = signal.aborted;
      const durationMs = clock.now() - startedAt;
      await this.record(
        template.name,
        request.actor.id,
        startedAt,
        durationMs,
        timedOut ? 'timeout' : 'failed',
        undefined,
        err,
      );
      if (timedOut) {
        throw new UserError(
          'timeout',
          `The build of ${template.name} ran past BUILD_TIMEOUT (${formatDuration(this.deps.buildTimeoutMs)}); it was stopped and cleaned up.`,
        );
      }
      throw err;
    } finally {
      this.running.delete(template.name);
    }
  }

  private async run(template: Template, request: BuildRequest, signal: AbortSignal): Promise<ImageInfo> {
    const build = template.build!;
    const { engine } = this.deps;
    const onProgress = request.onProgress;
    if (build.strategy === 'dockerfile') {
      return engine.build({
        contextDir: build.context,
        dockerfile: build.dockerfile,
        tag: template.image,
        noCache: request.noCache,
        signal,
        onProgress,
      });
    }
    // Step one: an image with the installer added; tagged apart so the real tag appears only on success.
    const stepOneTag = `${template.image.split(':')[0]}:step-one`;
    onProgress?.({ line: `Step one: building ${stepOneTag} with the installer added` });
    await engine.build({
      contextDir: build.context,
      dockerfile: build.dockerfile,
      tag: stepOneTag,
      noCache: request.noCache,
      signal,
      onProgress,
    });
    let containerId: string | undefined;
    try {
      onProgress?.({ line: `Step two: running ${build.install!.join(' ')} silently` });
      const run = await engine.runToCompletion({
        name: `spreadserve-build-${template.name}-${Date.now().toString(36)}`,
        image: stepOneTag,
        command: build.install!,
        labels: { [LABEL.build]: template.name, [LABEL.scope]: this.deps.scope },
        signal,
      });
      containerId = run.containerId;
      if (run.exitCode !== 0) {
        const lines = await engine.logs(run.containerId, 20).catch(() => []);
        throw new UserError(
          'build-failed',
          `The installer ${build.install!.join(' ')} of ${template.name} exited with code ${run.exitCode}; nothing was tagged.`,
          lines,
        );
      }
      onProgress?.({ line: `Step three: committing as ${template.image}` });
      return await engine.commit({
        containerId: run.containerId,
        tag: template.image,
        command: template.command ?? [],
        env: template.env,
        exposedPort: template.containerPort,
      });
    } finally {
      if (containerId) await engine.remove(containerId).catch(() => undefined);
      await engine.removeImage(stepOneTag).catch(() => undefined);
    }
  }

  private async record(
    template: string,
    by: string,
    startedAt: number,
    durationMs: number,
    outcome: 'success' | 'failed' | 'timeout',
    image?: ImageInfo,
    err?: unknown,
  ): Promise<void> {
    try {
      await this.deps.store.update((doc) => {
        doc.builds.push({
          template,
          by,
          startedAt,
          durationMs,
          outcome,
          imageId: image?.id,
          sizeBytes: image?.sizeBytes,
          error: err === undefined ? undefined : describeError(err),
        });
        if (doc.builds.length > 1000) doc.builds.splice(0, doc.builds.length - 1000);
        audit(doc, { at: startedAt, actor: by, action: 'build', template, reason: outcome });
      });
    } catch (recordErr) {
      this.deps.log.error({ template, err: describeError(recordErr) }, 'could not record a build');
    }
  }

  runningBuild(template: string): { by: string; at: number } | undefined {
    return this.running.get(template);
  }
}
