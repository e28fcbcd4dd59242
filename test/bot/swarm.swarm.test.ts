import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LABEL } from '../../core/labels.ts';
import { portTable } from '../../core/port-pool.ts';
import { type BotBed, eventually, startBotBed, textOf } from '../support/bot.ts';
import { httpGet, waitForHttp200 } from '../support/docker.ts';
import { buildImage, realTemplates } from '../support/services.ts';
import {
  killNode,
  nodeContainers as nodeContainersOf,
  removeLabelled,
  restartNode,
  type SwarmNode,
  swarmEngine,
  untilNoContainers,
  waitForNode,
} from '../support/swarm-fixture.ts';

const swarm = inject('swarm');
const SCOPE = 'swarmcore-bot';
const FIRST = 25400;
const LAST = 25419;
const ALICE = 'UALICE';
const BOB = 'UBOB';
const ADMIN = 'UADMIN';

const nodeNamed = (name: string): SwarmNode => {
  const node = swarm.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`the test swarm has no node ${name}`);
  return node;
};
const mgr = nodeNamed('ssmgr');
const wrk = nodeNamed('sswork');
const manager = swarmEngine(swarm);
const scopeLabel = `${LABEL.scope}=${SCOPE}`;

let b: BotBed;

const _sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const scopeServiceNames = async () =>
  (await manager.listServices({ filters: { label: [scopeLabel] } })).map((s) => s.Spec?.Name).sort();
const nodeContainers = (node: SwarmNode) => nodeContainersOf(swarm, node.name, scopeLabel);

const removeLeftovers = () => removeLabelled(swarm, scopeLabel);

/** Sends `text` as `user`; the one line they are told: on the ack, or else the first response
 * that is not the "working on it" line. */
async function answer(text: string, user: string, timeoutMs = 60_000): Promise<string> {
  const s = await b.slash(text, user);
  expect(s.ack.status).toBe(200);
  const ack = textOf(s.ack.json);
  if (ack !== '' && !ack.startsWith('⏳')) return ack;
  return textOf(await b.waitForResponse(s.id, (r) => !textOf(r).startsWith('⏳'), timeoutMs));
}

/** The URL in a launch's answer: the node's address and the port there. */
const urlIn = (line: string): string => /http:\/\/[\d.]+:\d+/.exec(line)?.[0] ?? `no URL in "${line}"`;

beforeAll(async () => {
  await removeLeftovers();
  b = await startBotBed({
    scope: SCOPE,
    ports: `${FIRST}-${LAST}`,
    templates: realTemplates(SCOPE),
    env: {
      SPREADSERVE_ENGINE: 'swarm',
      DOCKER_HOST: swarm.managerHost,
      SPREADSERVE_NODE_ENDPOINTS: `${mgr.name}=${mgr.host},${wrk.name}=${wrk.host}`,
      SPREADSERVE_ADMINS: ADMIN,
      MAX_INSTANCES_PER_USER: '0',
    },
  });
  // Built on the manager's own engine; the bot copies it to the worker when it first places there.
  await buildImage(b.bed.services);
}, 300_000);

afterAll(async () => {
  await b?.close();
  await removeLeftovers();
  expect(await scopeServiceNames()).toEqual([]);
  for (const node of swarm.nodes) expect(await nodeContainers(node)).toEqual([]);
}, 120_000);

describe('the Slack bot on a two-node swarm', () => {
  it('launches on both nodes, lists and reports them by node, and stops one', async () => {
    // when alice launches two instances with /spreadserve
    const first = await answer('launch demo --name sb-one', ALICE);
    const second = await answer('launch demo --name sb-two', ALICE);
    // then they are up on the manager and on the worker, at each node's address, on the same port
    expect(first).toMatch(/is up at/);
    expect(urlIn(first)).toBe(`http://${mgr.address}:${FIRST}`);
    expect(urlIn(second)).toBe(`http://${wrk.address}:${FIRST}`);
    // and each answers from the host with its own page
    expect(await waitForHttp200(`${urlIn(first)}/`, { deadlineMs: 20_000, tries: 200 })).toContain('sb-one');
    expect(await waitForHttp200(`${urlIn(second)}/`, { deadlineMs: 20_000, tries: 200 })).toContain('sb-two');

    // when an admin lists all instances
    const s = await b.slash('list all', ADMIN);
    const listed = JSON.stringify(await b.waitForResponse(s.id, () => true, 20_000));
    // then the list names each instance's node and node URL
    for (const [name, node, url] of [
      ['sb-one', mgr.name, urlIn(first)],
      ['sb-two', wrk.name, urlIn(second)],
    ]) {
      expect(listed).toContain(name);
      expect(listed).toContain(node);
      expect(listed).toContain(url);
    }

    // when an admin asks for the status
    const st = await b.slash('status', ADMIN);
    const status = JSON.stringify(await b.waitForResponse(st.id, () => true, 20_000));
    // then both nodes are named
    expect(status).toContain(mgr.name);
    expect(status).toContain(wrk.name);

    // when alice stops the one on the worker
    expect(await answer('stop sb-two', ALICE)).not.toMatch(/^Error|couldn't|cannot/i);
    // then its service is gone, its port on the worker free, nothing answers there
    expect(await scopeServiceNames()).toEqual(['spreadserve-sb-one']);
    expect(portTable(b.bed.services.store.read(), wrk.id)[FIRST]).toBeUndefined();
    expect(await httpGet(`http://${wrk.address}:${FIRST}/`, 1000)).toBeNull();
  }, 240_000);

  it("closes a killed worker's instance by itself, DMs its owner, and nothing comes back", async () => {
    // given bob's instance on the worker (the manager has sb-one: fewest first)
    const up = await answer('launch demo --name sb-lost', BOB);
    expect(urlIn(up)).toMatch(new RegExp(`^http://${wrk.address.replaceAll('.', '\\.')}:`));
    await waitForHttp200(`${urlIn(up)}/`, { deadlineMs: 20_000, tries: 200 });

    // when the worker's dockerd is killed, and nobody types anything
    await killNode(swarm, wrk.name);
    const killedAt = Date.now();
    try {
      // then within 30 s bob gets a DM naming the instance, the node and why
      await eventually(() => b.postsTo(`D${BOB}`).length > 0, 30_000);
      const toldMs = Date.now() - killedAt;
      console.log(`swarm bot: the owner told of a lost instance ${toldMs} ms after kill -9`);
      const dm = textOf(b.postsTo(`D${BOB}`)[0]);
      expect(dm).toContain('sb-lost');
      expect(dm).toContain(wrk.name);
      expect(dm).toContain(`Lost: node ${wrk.name} is down`);
      // and the record is closed and the port free on the worker
      expect(b.bed.services.store.read().instances['sb-lost']).toBeUndefined();
      const port = Number(urlIn(up).split(':').at(-1));
      expect(portTable(b.bed.services.store.read(), wrk.id)[port]).toBeUndefined();
      // and `list all` no longer shows it
      const s = await b.slash('list all', ADMIN);
      expect(JSON.stringify(await b.waitForResponse(s.id, () => true, 20_000))).not.toContain('sb-lost');
    } finally {
      await restartNode(swarm, wrk.name);
    }
    await waitForNode(swarm, wrk.name, 'ready', 60_000);

    // then once the worker is back, nothing of the scope is on it and no service came back
    const left = await untilNoContainers(swarm, wrk.name, scopeLabel);
    expect(left.map((c) => [c.Names, c.State])).toEqual([]);
    expect(await scopeServiceNames()).toEqual(['spreadserve-sb-one']);
    expect(Object.keys(b.bed.services.store.read().instances)).toEqual(['sb-one']);
  }, 240_000);
});
