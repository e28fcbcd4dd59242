// ContainerEngine on one Docker host through dockerode (the only module importing it). The
// plain parts live beside it: docker-host.ts (DOCKER_HOST), docker-errors.ts (every Docker
// failure a user can act on becomes a UserError; the rest stay plain Errors), docker-data.ts
// (Docker's answers read into the engine's types), docker-platform.ts (the create body per
// platform), docker-streams.ts (log and builder output, aborts) and docker-build.ts (builder
// output, build options, commit changes).
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { pack } from 'tar-fs';
import { assertContextDir, BuildOutput, buildOptions, commitChanges } from './docker-build.ts';
import {
  detailsOf,
  imageLabels,
  imageOf,
  isDict,
  networkLabels,
  num,
  platformOf,
  type StatsAnswer,
  sampleOf,
  summaryOf,
} from './docker-data.ts';
import {
  buildStartError,
  createError,
  noSuchContainer,
  removeImageError,
  startError,
  statusOf,
  unreachableError,
  within,
} from './docker-errors.ts';
import { connect, type DockerTarget } from './docker-host.ts';
import { OwnNetworks } from './docker-networks.ts';
import { type CreateBody, instanceCreateBody, joinsOwnNetwork, oneOffCreateBody } from './docker-platform.ts';
import { abortable, demuxLogLines } from './docker-streams.ts';
import {
  DOCKER_TIMEOUTS,
  type DockerEngineOptions,
  type DockerTimeouts,
  isUnanswered,
} from './docker-timeouts.ts';
import {
  type BuildRequest,
  type CommitRequest,
  type ContainerDetails,
  type ContainerEngine,
  type ContainerSpec,
  type ContainerSummary,
  type EnginePlatform,
  type ImageInfo,
  type Labels,
  type NetworkSample,
  type RunToCompletionRequest,
  splitImageTag,
} from './types.ts';

export class DockerEngine implements ContainerEngine {
  private readonly docker: Docker;
  readonly target: DockerTarget;
  readonly timeouts: Readonly<DockerTimeouts>;

  constructor(options: DockerEngineOptions = {}) {
    const { target, modem } = connect(options);
    this.target = target;
    this.docker = new Docker(modem);
    this.timeouts = { ...DOCKER_TIMEOUTS, ...options.timeouts };
  }

  /**
   * Runs one engine call within `ms` (its request aborted past it, failing with "Docker did not
   * answer within N."); 404 answers become `onMissing()` when given, other errors go through the
   * mapper.
   */
  private async call<T>(
    ms: number,
    fn: (signal: AbortSignal) => Promise<T>,
    onMissing?: () => T,
  ): Promise<T> {
    return within(ms, this.target.display, fn, onMissing);
  }

  /** A call bounded by its caller's signal instead (builds, the install run): errors mapped only. */
  private async unbounded<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw unreachableError(err, this.target.display);
    }
  }

  /**
   * A GET of the Engine API that its signal really aborts: @types/dockerode 4 types no signal on
   * ping and stats, and dockerode 5 drops the one given to an image inspect.
   */
  private get(path: string, abortSignal: AbortSignal, query?: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.docker.modem.dial(
        {
          path: query ? `${path}?` : path,
          method: 'GET',
          options: query,
          abortSignal,
          statusCodes: { 200: true, 404: 'no such object', 500: 'server error' },
        },
        (err, data) => (err ? reject(err) : resolve(data)),
      );
    });
  }

  /** Creates a container; a missing image or a taken name becomes a UserError. */
  private create(options: CreateBody) {
    return this.call(this.timeouts.quickMs, async (abortSignal) => {
      try {
        return await this.docker.createContainer({ ...options, abortSignal });
      } catch (err) {
        throw createError(err, options.name, options.Image);
      }
    });
  }

  async ping(): Promise<void> {
    await this.call(this.timeouts.quickMs, (abortSignal) => this.get('/_ping', abortSignal));
  }

  /** The platform once learned; a lookup in flight is shared, a failed one forgotten. */
  private learned?: Promise<EnginePlatform>;

  platform(): Promise<EnginePlatform> {
    if (this.learned) return this.learned;
    const lookup = this.call(this.timeouts.quickMs, (abortSignal) => this.get('/info', abortSignal)).then(
      (info) => platformOf(info, this.target.display),
    );
    lookup.catch(() => {
      if (this.learned === lookup) this.learned = undefined;
    });
    this.learned = lookup;
    return lookup;
  }

  /** The bot's own networks on this engine: created when missing, checked when found. */
  private readonly networks = new OwnNetworks({
    create: (body) =>
      this.call(this.timeouts.quickMs, (abortSignal) =>
        this.docker.createNetwork({ ...body, abortSignal }).then(
          () => true,
          (err: unknown) => (statusOf(err) === 409 ? false : Promise.reject(err)),
        ),
      ),
    labelsOf: (name) =>
      this.call(
        this.timeouts.quickMs,
        async (abortSignal) => networkLabels(await this.get(`/networks/${name}`, abortSignal)),
        () => null,
      ),
  });

  async createAndStart(spec: ContainerSpec): Promise<string> {
    try {
      return await this.createAndStartOnce(spec);
    } catch (err) {
      // Docker 20.10 says so at start (404, the container removed): the network was removed
      // behind this engine's back. Create it again, once.
      if (!spec.network || statusOf(err) !== 404 || !/network .* not found/i.test(String(err))) throw err;
      this.networks.forget(spec.network.name);
      return this.createAndStartOnce(spec);
    }
  }

  private async createAndStartOnce(spec: ContainerSpec): Promise<string> {
    const { os } = await this.platform();
    if (joinsOwnNetwork(spec, os)) await this.networks.ensure(spec.network);
    const container = await this.create(instanceCreateBody(spec, os));
    try {
      await this.call(this.timeouts.quickMs, (abortSignal) => container.start({ abortSignal }));
    } catch (err) {
      // A container that never started is useless and would hold its name: remove it, unless the
      // engine did not answer (another call would only wait as long again; the caller sweeps later).
      if (!isUnanswered(err)) {
        await this.remove(container.id).catch(() => undefined);
      }
      throw startError(err, spec);
    }
    return container.id;
  }

  async remove(idOrName: string): Promise<void> {
    // force: kill (no stop grace period) and remove in one call.
    await this.call(
      this.timeouts.quickMs,
      (abortSignal) => this.docker.getContainer(idOrName).remove({ force: true, abortSignal }),
      () => undefined,
    );
  }

  async list(labels: Labels): Promise<ContainerSummary[]> {
    const label = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
    const rows = await this.call(this.timeouts.quickMs, (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { label }, abortSignal }),
    );
    return rows.map(summaryOf);
  }

  async inspect(idOrName: string): Promise<ContainerDetails | null> {
    const info = await this.call<Docker.ContainerInspectInfo | null>(
      this.timeouts.quickMs,
      (abortSignal) => this.docker.getContainer(idOrName).inspect({ abortSignal }),
      () => null,
    );
    return info === null ? null : detailsOf(info);
  }

  async logs(idOrName: string, lines: number): Promise<string[]> {
    const buf = await this.call(
      this.timeouts.logsMs,
      (abortSignal) =>
        this.docker
          .getContainer(idOrName)
          .logs({ stdout: true, stderr: true, tail: lines, timestamps: false, abortSignal }),
      () => noSuchContainer(idOrName),
    );
    return demuxLogLines(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
  }

  async stats(idOrName: string): Promise<NetworkSample> {
    // one-shot: answered at the next collector tick instead of waiting for two samples (~2 s).
    const stats = await this.call(
      this.timeouts.quickMs,
      (abortSignal) =>
        this.get(`/containers/${idOrName}/stats`, abortSignal, {
          stream: false,
          'one-shot': true,
        }) as Promise<StatsAnswer>,
      () => noSuchContainer(idOrName),
    );
    return sampleOf(stats);
  }

  async inspectImage(tag: string): Promise<ImageInfo | null> {
    const info = await this.call<Docker.ImageInspectInfo | null>(
      this.timeouts.quickMs,
      (abortSignal) => this.get(`/images/${tag}/json`, abortSignal) as Promise<Docker.ImageInspectInfo>,
      () => null,
    );
    return info === null ? null : imageOf(tag, info);
  }

  async build(request: BuildRequest): Promise<ImageInfo> {
    const { tag, signal } = request;
    const progress = new BuildOutput(request.onProgress);
    await assertContextDir(request.contextDir);

    await abortable(signal, 'The build was stopped.', async () => {
      let output: NodeJS.ReadableStream;
      try {
        output = await this.unbounded(() =>
          this.docker.buildImage(Readable.from(pack(request.contextDir)), buildOptions(request)),
        );
      } catch (err) {
        throw buildStartError(err, tag);
      }
      // Closing the response makes the daemon cancel the build and remove its intermediate container.
      const destroy = () => (output as Readable).destroy();
      if (signal?.aborted) destroy();
      signal?.addEventListener('abort', destroy, { once: true });
      try {
        await new Promise<void>((resolve, reject) => {
          this.docker.modem.followProgress(
            output,
            (err) => (err ? reject(unreachableError(err, this.target.display)) : resolve()),
            progress.onObject,
          );
        });
      } finally {
        signal?.removeEventListener('abort', destroy);
      }
    });
    progress.finish(tag);
    const image = await this.inspectImage(tag);
    if (!image) throw new Error(`The build of ${tag} reported success but the image is missing.`);
    return image;
  }

  async runToCompletion(request: RunToCompletionRequest): Promise<{ containerId: string; exitCode: number }> {
    const { os } = await this.platform();
    const container = await this.create(oneOffCreateBody(request, os));
    try {
      const result = await abortable(request.signal, 'The install was stopped.', async () => {
        await this.call(this.timeouts.quickMs, (abortSignal) => container.start({ abortSignal }));
        // Runs as long as the install does: bounded by the caller's signal (BUILD_TIMEOUT).
        return this.unbounded(() => container.wait({ abortSignal: request.signal }));
      });
      const exitCode = isDict(result) ? num(result.StatusCode) : 0;
      return { containerId: container.id, exitCode };
    } catch (err) {
      // Stopped or failed before exiting: nobody will commit it, so do not leave it behind.
      await this.remove(container.id).catch(() => undefined);
      throw err;
    }
  }

  async commit(request: CommitRequest): Promise<ImageInfo> {
    const { repo, tag } = splitImageTag(request.tag);
    const container = this.docker.getContainer(request.containerId);
    const info = await this.call(
      this.timeouts.quickMs,
      (abortSignal) => container.inspect({ abortSignal }),
      () => noSuchContainer(request.containerId),
    );
    const base = await this.call(
      this.timeouts.quickMs,
      (abortSignal) =>
        this.get(`/images/${info.Image}/json`, abortSignal) as Promise<Docker.ImageInspectInfo>,
    );
    const changes = commitChanges(request, info.Config.Labels ?? {}, imageLabels(base.Config));
    // dockerode sends an array as repeated `changes` query parameters, which the API accepts.
    await this.call(this.timeouts.imageMs, (abortSignal) =>
      container.commit({ repo, tag, changes, abortSignal }),
    );
    const image = await this.inspectImage(request.tag);
    if (!image) throw new Error(`docker commit of ${request.containerId} made no image ${request.tag}.`);
    return image;
  }

  async removeImage(tag: string): Promise<void> {
    try {
      await this.call(
        this.timeouts.imageMs,
        (abortSignal) => this.docker.getImage(tag).remove({ abortSignal }),
        () => undefined,
      );
    } catch (err) {
      throw removeImageError(err, tag);
    }
  }
}
