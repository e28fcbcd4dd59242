// The dockerfile strategy: one `docker build` of the template's Dockerfile makes its image.
// Also what both strategies share: what a strategy is given, and how the builder's output becomes
// progress (the commit strategy's step one is such a build).
import type { BuildProgress, ContainerEngine, ImageInfo } from '../engine/types.ts';
import type { Logger } from '../lib/log.ts';
import type { DockerfileBuild, Template, TemplateBuild } from './templates.ts';

/** One build of one template, as a strategy sees it: `build` is the template's own build section. */
export interface StrategyRun<B extends TemplateBuild> {
  template: Template;
  build: B;
  engine: ContainerEngine;
  log: Logger;
  /** The bot's label scope, on every container a build makes. */
  scope: string;
  noCache?: boolean;
  signal: AbortSignal;
  /** Each step as it starts; never throws. */
  report: (progress: BuildProgress) => void;
}

const DOCKER_STEP_RE = /^Step \d+\/\d+ : /;

/**
 * The builder's "Step i/N : X" lines as "X" with the overall counter, `extra` steps following
 * the builder's own. Its other output ("---> Using cache", ids) is not progress.
 */
export function dockerSteps(
  report: (progress: BuildProgress) => void,
  extra: number,
): (progress: BuildProgress) => void {
  return (p) => {
    if (!p.step) return;
    report({
      line: p.line.replace(DOCKER_STEP_RE, ''),
      step: { index: p.step.index, total: p.step.total + extra },
    });
  };
}

export async function buildWithDockerfile(run: StrategyRun<DockerfileBuild>): Promise<ImageInfo> {
  const { template, build, report } = run;
  report({ line: `Building ${template.image} from ${build.dockerfile}` });
  return run.engine.build({
    contextDir: build.context,
    dockerfile: build.dockerfile,
    tag: template.image,
    noCache: run.noCache,
    signal: run.signal,
    onProgress: dockerSteps(report, 0),
  });
}
