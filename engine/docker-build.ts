// The image-making calls' plain parts: reading the builder's output (steps, the last lines, the
// failure it reports), the options of a build, and the `changes` of a docker commit. The calls
// themselves are in engine/docker.ts.
import { stat } from 'node:fs/promises';
import { UserError } from '../lib/errors.ts';
import { isDict, str } from './docker-data.ts';
import { makeLineSplitter } from './docker-streams.ts';
import type { BuildProgress, BuildRequest, CommitRequest, Labels } from './types.ts';

const BUILD_TAIL_LINES = 20;
const STEP_RE = /^Step (\d+)\/(\d+) : /;

/** Checked before a build: a missing context would surface as a tar ENOENT, read as "Docker unreachable". */
export async function assertContextDir(contextDir: string): Promise<void> {
  const context = await stat(contextDir).catch(() => null);
  if (!context?.isDirectory()) {
    throw new UserError('not-found', `The build context ${contextDir} is not a directory.`);
  }
}

/** The query of POST /build for a request. */
export function buildOptions(request: BuildRequest) {
  return {
    t: request.tag,
    dockerfile: request.dockerfile,
    nocache: request.noCache ?? false,
    // Never pull: no registry is reachable; a missing base image fails at its FROM step.
    pull: false,
    rm: true,
    forcerm: true,
    ...(request.labels ? { labels: request.labels } : {}),
    ...(request.signal ? { abortSignal: request.signal } : {}),
  };
}

/** The builder's JSON output, object by object: progress lines, the current step, the failure. */
export class BuildOutput {
  private readonly tail: string[] = [];
  private step: BuildProgress['step'];
  private failure: string | undefined;
  private readonly onText: (chunk: string) => void;

  constructor(onProgress: BuildRequest['onProgress']) {
    this.onText = makeLineSplitter((line) => {
      const m = STEP_RE.exec(line);
      if (m) this.step = { index: Number(m[1]), total: Number(m[2]) };
      this.tail.push(line);
      if (this.tail.length > BUILD_TAIL_LINES) this.tail.shift();
      onProgress?.(m ? { line, step: this.step } : { line });
    });
  }

  readonly onObject = (obj: unknown): void => {
    if (!isDict(obj)) return;
    if (typeof obj.stream === 'string') this.onText(obj.stream);
    // A failed build arrives as an object in the output, not as an error to followProgress.
    const detail = isDict(obj.errorDetail) ? str(obj.errorDetail.message) : '';
    const error = str(obj.error) || detail;
    if (error !== '' && this.failure === undefined) this.failure = error;
  };

  /** Once the output ended: flushes a last line without a newline; throws the failure it reported. */
  finish(tag: string): void {
    this.onText('\n');
    if (this.failure !== undefined) {
      const at = this.step ? ` at step ${this.step.index}/${this.step.total}` : '';
      throw new UserError('build-failed', `The build of ${tag} failed${at}: ${this.failure}`, [...this.tail]);
    }
  }
}

/** A Dockerfile double-quoted word: commit `changes` are parsed as Dockerfile lines, with $ expansion. */
function dockerfileWord(value: string): string {
  if (/[\r\n]/.test(value))
    throw new Error(`A value for docker commit may not contain a line break: ${value}`);
  return `"${value.replace(/[\\"$]/g, '\\$&')}"`;
}

/**
 * The `changes` of committing the one-off container of `request`, given its labels and its base
 * image's. Docker copies the container's labels into the image, and containers inherit image
 * labels: the ones the run added are blanked (the base image's kept), so an instance never
 * carries e.g. the build label. Docker cannot delete a label, only set it.
 */
export function commitChanges(request: CommitRequest, containerLabels: Labels, baseLabels: Labels): string[] {
  const labels: Labels = {};
  for (const [key, value] of Object.entries(containerLabels)) {
    if (baseLabels[key] !== value) labels[key] = baseLabels[key] ?? '';
  }
  Object.assign(labels, request.labels ?? {});
  return [
    // Without CMD the image would keep the install command as its command (FACTS).
    `CMD ${JSON.stringify(request.command)}`,
    `EXPOSE ${request.exposedPort}/tcp`,
    ...Object.entries(request.env).map(([k, v]) => `ENV ${k}=${dockerfileWord(v)}`),
    ...Object.entries(labels).map(([k, v]) => `LABEL ${dockerfileWord(k)}=${dockerfileWord(v)}`),
  ];
}
