// `status` warns on-call when the running instances come near a kernel limit of the Docker host
// (engine/host-limits.ts), in the CLI and in Slack, only where the bot runs on that host: a local
// socket. The host's settings are given (the kernel's /proc/sys is the boundary faked here: this
// machine's are raised for the scale suite); the core is real, its store a temp file. No engine
// answers: status says Docker is unreachable, and the warning all the same. Pool 24970-24971.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { statusBlocks } from '../../bot/status-blocks.ts';
import { replyToText } from '../../cli/text.ts';
import { dispatch } from '../../commands/index.ts';
import type { Reply } from '../../commands/reply.ts';
import { createServices, type Services } from '../../core/context.ts';
import { DockerEngine } from '../../engine/docker.ts';
import type { ReadSetting } from '../../engine/host-limits.ts';
import { silentLogger } from '../../lib/log.ts';
import { alice, realTemplates, tempDir, testConfig } from '../support/services.ts';

const SCOPE = 'test-host-limits';
const POOL = '24970-24971';
/** A host that holds about one instance by its neighbour table (4 / 2.2) and two by its pids. */
const tinyHost: ReadSetting = (setting) =>
  ({ 'kernel.pid_max': '44', 'net.ipv4.neigh.default.gc_thresh3': '4' })[setting] ?? null;
const NEIGHBOUR_WARNING =
  'This host runs 1 instance, and its net.ipv4.neigh.default.gc_thresh3 of 4 holds about 1 (2 neighbour entries each, when all are asked at once); raise it, for example `sysctl -w net.ipv4.neigh.default.gc_thresh2=1000 net.ipv4.neigh.default.gc_thresh3=2000`.';

const beds: { services: Services; dir: string }[] = [];

afterEach(async () => {
  for (const { services, dir } of beds.splice(0)) {
    await services.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The real core on `dockerHost` (nothing answers there), with `instances` records in its store. */
async function core(dockerHost: string, instances: number, readSetting?: ReadSetting): Promise<Services> {
  const dir = tempDir('ss-host-limits-');
  const config = testConfig({ scope: SCOPE, ports: POOL, env: { DOCKER_HOST: dockerHost } }, dir);
  const services = await createServices(config, {
    engine: new DockerEngine({ dockerHost, timeouts: { quickMs: 2_000 } }),
    log: silentLogger(),
    templates: realTemplates(SCOPE),
    readSetting,
  });
  beds.push({ services, dir });
  await services.store.update((doc) => {
    for (let k = 0; k < instances; k++) {
      const port = 24970 + k;
      doc.instances[`i${k}`] = {
        name: `i${k}`,
        owner: alice.id,
        template: 'demo',
        port,
        state: 'starting',
        createdAt: Date.now(),
        lastActivityAt: Date.now(),
      };
      doc.ports[String(port)] = { state: 'reserved', instance: `i${k}`, since: Date.now() };
    }
  });
  return services;
}

const status = async (services: Services): Promise<Extract<Reply, { kind: 'status' }>> => {
  const reply = await dispatch('status', { actor: alice, services, prefix: '', log: silentLogger() });
  if (reply.kind !== 'status') throw new Error(`expected a status reply, got ${reply.kind}`);
  return reply;
};

const LOCAL = 'unix:///nonexistent/spreadserve-host-limits.sock';

describe('status near a kernel limit of the Docker host', () => {
  it('warns in the summary, the CLI and Slack, naming the setting and how to raise it', async () => {
    // given a bot on the Docker host (a local socket) with one instance, on a host that holds one
    const reply = await status(await core(LOCAL, 1, tinyHost));

    // then status names the neighbour table (pids hold two: not near yet)
    expect(reply.status.hostLimits).toEqual([NEIGHBOUR_WARNING]);
    expect(reply.summary).toMatch(/, near this host's kernel limits\.$/);
    expect(replyToText(reply)).toContain(`  host:      ${NEIGHBOUR_WARNING}`);
    expect(JSON.stringify(statusBlocks(reply.status, reply.now))).toContain(`⚠️ ${NEIGHBOUR_WARNING}`);
  });

  it('says nothing while the instances are well within what the host holds', async () => {
    const reply = await status(await core(LOCAL, 0, tinyHost));
    expect(reply.status.hostLimits).toBeUndefined();
    expect(reply.summary).not.toContain('kernel');
    expect(replyToText(reply)).not.toContain('host:');
  });

  it('says nothing for a remote engine: its kernel is not this one', async () => {
    const reply = await status(await core('tcp://127.0.0.1:24971', 1, tinyHost));
    expect(reply.status.hostLimits).toBeUndefined();
  });

  it("reads this host's own settings when none are given", async () => {
    // this machine holds far more than two instances (Linux's defaults hold about 465)
    const reply = await status(await core(LOCAL, 2));
    expect(reply.status.hostLimits).toBeUndefined();
  });
});
