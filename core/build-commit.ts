// The commit strategy, the tech note's two steps: build an image with the installer added, run
// the installer silently in a one-off container, commit that container with the launch command.
//
// Progress numbers the step-one Dockerfile's steps 1..N, the install N+1 and the commit N+2.
import { randomBytes } from 'node:crypto';
import { type ContainerEngine, type ImageInfo, splitImageTag } from '../engine/types.ts';
import { describeError, UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { dockerSteps, type StrategyRun } from './build-dockerfile.ts';
import { LABEL } from './labels.ts';
import type { CommitBuild } from './templates.ts';

/** The installer's log lines shown when it fails (the issue: the last 20). */
const INSTALL_TAIL_LINES = 20;

/** Untagging step one, refused while another build's container uses its image: retried this often. */
const STEP_ONE_REMOVE_TRIES = 20;
const STEP_ONE_REMOVE_WAIT_MS = 500;

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

export async function buildByCommit(run: StrategyRun<CommitBuild>): Promise<ImageInfo> {
  const { template, build, engine, log, signal, report } = run;
  const { install } = build;
  // One-off containers of this template left by a bot killed mid-build: no build of it runs
  // now (one at a time, one process owns the store), so they are leftovers.
  const labels = { [LABEL.build]: template.name, [LABEL.scope]: run.scope };
  for (const leftover of await engine.list(labels)) {
    log.warn({ container: leftover.name }, 'removing a build container left by an earlier build');
    await engine.remove(leftover.id);
  }

  // (a) Step one: an image with the installer added, under its own tag.
  const stepOne = stepOneTag(template.image);
  report({ line: `Building the step-one image ${stepOne} from ${build.dockerfile}` });
  let dockerTotal = 0;
  const onStep = dockerSteps(report, 2);
  let containerId: string | undefined;
  try {
    const stepOneImage = await engine.build({
      contextDir: build.context,
      dockerfile: build.dockerfile,
      tag: stepOne,
      noCache: run.noCache,
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
    const installed = await engine.runToCompletion({
      name: `spreadserve-build-${template.name}-${randomBytes(3).toString('hex')}`,
      image: stepOne,
      command: install,
      labels,
      isolation: template.isolation,
      signal,
    });
    containerId = installed.containerId;
    if (installed.exitCode !== 0) {
      const lines = await engine.logs(installed.containerId, INSTALL_TAIL_LINES).catch(() => []);
      const shown = lines.length > 0 ? 'its last lines follow' : 'it printed nothing';
      throw new UserError(
        'build-failed',
        `The installer ${shellWords(install)} of ${template.name} exited with code ${installed.exitCode} ` +
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
      containerId: installed.containerId,
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
          log.warn({ containerId, err: describeError(err) }, 'could not remove a build container'),
        );
    }
    await removeStepOne(engine, log, stepOne);
  }
}

/**
 * Untags the step-one image. Builds of the same Dockerfile share its layers, so the image can be
 * the one another build's container is running from at this moment; Docker then refuses to
 * drop the last tag (409, "must force"). Forcing could delete an image in use: wait a little
 * instead (bounded), and leave the tag with a warning if it is still refused.
 */
async function removeStepOne(engine: ContainerEngine, log: Logger, tag: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await engine.removeImage(tag);
      return;
    } catch (err) {
      const busy = err instanceof UserError && err.kind === 'conflict';
      if (!busy || attempt >= STEP_ONE_REMOVE_TRIES) {
        log.warn({ tag, err: describeError(err) }, 'could not remove a step-one image');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, STEP_ONE_REMOVE_WAIT_MS));
    }
  }
}
