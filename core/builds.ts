// Builds a template's image: `dockerfile` (one-shot build) or `commit` (the tech note's two
// steps: build an image with the installer added, run the installer silently in a container,
// commit that container with the launch command). One build per template at a time.
//
// Progress: each step is reported once, as it starts, with an overall counter. The commit
// strategy numbers the step-one Dockerfile's steps 1..N, the install N+1 and the commit N+2;
// the builder's other output ("---> Using cache", ids) is not progress and is not reported.
import { randomBytes } from 'node:crypto';
import { type BuildProgress, type ContainerEngine, type ImageInfo, splitImageTag } from '../engine/types.ts';
import type { Clock } from '../lib/clock.ts';
import { formatDuration } from '../lib/duration.ts';
import { describeError, UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Store } from '../store/store.ts';
import { audit } from './audit.ts';
import { LABEL } from './labels.ts';
import { type Actor, requireAdmin } from './policy.ts';
import { findTemplate, type Template, type TemplateSet } from './templates.ts';

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

/** The installer's log lines shown when it fails (the issue: the last 20). */
const INSTALL_TAIL_LINES = 20;

/** Untagging step one, refused while another build's container uses its image: retried this often. */
const STEP_ONE_REMOVE_TRIES = 20;
const STEP_ONE_REMOVE_WAIT_MS = 500;

const DOCKER_STEP_RE = /^Step \d+\/\d+ : /;

/**
 * The step-one image's tag: beside the template's image (`spreadserve/demo:0.3.1-step-one-1a2b3c`),
 * unique per build, so two builds never share it and the real tag only ever appears on success.
 */
export function stepOneTag(image: string): string {
  const { repo, tag } = splitImageTag(image);
  // A Docker tag has at most 128 characters.
  return `${repo}:${tag.slice(0, 100)}-step-one-${randomBytes(3).toString('hex')}`;
}

/** The install command as one would type it: `sh -c 'echo hi; exit 23'`. */
export function shellWords(words: readonly string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** "12s ago (14:02:07 UTC)": when a running build started, for the one who has to wait. */
function startedWhen(at: number, now: number): string {
  const clock = `${new Date(at).toISOString().slice(11, 19)} UTC`;
  const ago = now - at < 1_000 ? 'just now' : `${formatDuration(now - at)} ago`;
  return `${ago} (${clock})`;
}

export class Builds {
  /** Running builds by template: who started each and when. */
  private readonly running = new Map<string, RunningBuild>();

  constructor(private readonly deps: BuildDeps) {}

  async build(request: BuildRequest): Promise<BuildResult> {
    const { templates, clock, store } = this.deps;
    requireAdmin(request.actor, 'build images');
    const template = findTemplate(templates, request.template);
    if (!template.build) throw new UserError('not-found', `Template ${template.name} has no build section.`);
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
    try {
      const image = await this.run(template, request, timeout.signal, report);
      const durationMs = clock.now() - startedAt;
      await this.record(template.name, request.actor.id, startedAt, durationMs, 'success', image);
      return { template, image, durationMs };
    } catch (err) {
      const timedOut = timeout.signal.aborted;
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

  private async run(
    template: Template,
    request: BuildRequest,
    signal: AbortSignal,
    report: (progress: BuildProgress) => void,
  ): Promise<ImageInfo> {
    const build = template.build!;
    const { engine } = this.deps;
    // The builder's "Step i/N : X" lines become "X" with the overall counter; `extra` steps follow.
    const dockerSteps = (extra: number) => (p: BuildProgress) => {
      if (!p.step) return;
      report({
        line: p.line.replace(DOCKER_STEP_RE, ''),
        step: { index: p.step.index, total: p.step.total + extra },
      });
    };

    if (build.strategy === 'dockerfile') {
      report({ line: `Building ${template.image} from ${build.dockerfile}` });
      return engine.build({
        contextDir: build.context,
        dockerfile: build.dockerfile,
        tag: template.image,
        noCache: request.noCache,
        signal,
        onProgress: dockerSteps(0),
      });
    }

    // One-off containers of this template left by a bot killed mid-build: no build of it runs
    // now (one at a time, one process owns the store), so they are leftovers.
    const labels = { [LABEL.build]: template.name, [LABEL.scope]: this.deps.scope };
    for (const leftover of await engine.list(labels)) {
      this.deps.log.warn({ container: leftover.name }, 'removing a build container left by an earlier build');
      await engine.remove(leftover.id);
    }

    // (a) Step one: an image with the installer added, under its own tag.
    const install = build.install!;
    const stepOne = stepOneTag(template.image);
    report({ line: `Building the step-one image ${stepOne} from ${build.dockerfile}` });
    let dockerTotal = 0;
    const onStep = dockerSteps(2);
    let containerId: string | undefined;
    try {
      const stepOneImage = await engine.build({
        contextDir: build.context,
        dockerfile: build.dockerfile,
        tag: stepOne,
        noCache: request.noCache,
        signal,
        onProgress: (p) => {
          if (p.step) dockerTotal = p.step.total;
          onStep(p);
        },
      });
      const total = dockerTotal + 2;
      // (b) The installer, silently, in a one-off container; wait for it to exit.
      report({
        line: `Running the installer ${shellWords(install)} in a container`,
        step: { index: total - 1, total },
      });
      const run = await engine.runToCompletion({
        name: `spreadserve-build-${template.name}-${randomBytes(3).toString('hex')}`,
        image: stepOne,
        command: install,
        labels,
        signal,
      });
      containerId = run.containerId;
      if (run.exitCode !== 0) {
        const lines = await engine.logs(run.containerId, INSTALL_TAIL_LINES).catch(() => []);
        const shown = lines.length > 0 ? 'its last lines follow' : 'it printed nothing';
        throw new UserError(
          'build-failed',
          `The installer ${shellWords(install)} of ${template.name} exited with code ${run.exitCode} ` +
            `(step ${total - 1}/${total}); nothing was tagged, ${shown}.`,
          lines,
        );
      }
      // (c) Commit it as the template's image, with the launch command, port and environment.
      report({
        line: `Committing the container as ${template.image} (port ${template.containerPort}, launch command set)`,
        step: { index: total, total },
      });
      return await engine.commit({
        containerId: run.containerId,
        tag: template.image,
        // Without a command of its own the image keeps step one's, never the install command.
        command: template.command ?? stepOneImage.cmd,
        env: template.env,
        exposedPort: template.containerPort,
      });
    } finally {
      // Always, whatever happened (a build stopped as it finished may have tagged step one): the
      // one-off container, then the step-one tag (its layers stay as parents and build cache).
      if (containerId) {
        await engine
          .remove(containerId)
          .catch((err) =>
            this.deps.log.warn(
              { containerId, err: describeError(err) },
              'could not remove a build container',
            ),
          );
      }
      await this.removeStepOne(stepOne);
    }
  }

  /**
   * Untags the step-one image. Builds of the same Dockerfile share its layers, so the image can be
   * the one another build's container is running from at this moment; Docker then refuses to
   * drop the last tag (409, "must force"). Forcing could delete an image in use: wait a little
   * instead (bounded), and leave the tag with a warning if it is still refused.
   */
  private async removeStepOne(tag: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.engine.removeImage(tag);
        return;
      } catch (err) {
        const busy = err instanceof UserError && err.kind === 'conflict';
        if (!busy || attempt >= STEP_ONE_REMOVE_TRIES) {
          this.deps.log.warn({ tag, err: describeError(err) }, 'could not remove a step-one image');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, STEP_ONE_REMOVE_WAIT_MS));
      }
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
}
