// Instances spread over the bot's bridge networks (core/networks.ts), against the real engine:
// with SPREADSERVE_NETWORK_SIZE=2, launches fill `spreadserve-<scope>`, then `-2`, `-3`, as
// Docker itself reports; each network is labelled with inter-container traffic off; a freed
// slot on a lower network is reused; a restarted bot (same store, or none: adopted from Docker)
// keeps placing correctly; a namesake network that is not the bot's is never joined.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../core/context.ts';
import { LABEL } from '../../core/labels.ts';
import { networkName } from '../../core/networks.ts';
import { DockerEngine } from '../../engine/docker.ts';
import { UserError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { dockerSync, scopeContainers, waitForHttp200 } from '../support/docker.ts';
import { admin, alice, bob, buildImage, prepareScope } from '../support/services.ts';

const SCOPE = 'test-networks';
const FIRST = 25100;
const PORTS = `${FIRST}-${FIRST + 19}`;
const NET1 = networkName(SCOPE);
const NET2 = networkName(SCOPE, 2);
const NET3 = networkName(SCOPE, 3);
const NET4 = networkName(SCOPE, 4);

type Bed = Awaited<ReturnType<typeof prepareScope>>;
let bed: Bed;
let services: Services;

const open = (dataFile?: string) =>
  createServices(dataFile ? { ...bed.config, dataFile } : bed.config, {
    engine: new DockerEngine(),
    log: silentLogger(),
    templates: bed.templates,
  });

/** The networks Docker reports each of the scope's containers attached to, by instance. */
function networksInDocker(): Record<string, string[]> {
  const placed: Record<string, string[]> = {};
  for (const id of scopeContainers(SCOPE)) {
    const [instance, networks] = dockerSync(
      'inspect',
      '--format',
      `{{index .Config.Labels "${LABEL.instance}"}} {{json .NetworkSettings.Networks}}`,
      id,
    ).split(/ (.*)/s);
    placed[instance ?? ''] = Object.keys(JSON.parse(networks ?? '{}')).sort();
  }
  return placed;
}

/** How many of the scope's containers Docker reports on each network. */
function countsInDocker(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const networks of Object.values(networksInDocker())) {
    for (const n of networks) counts[n] = (counts[n] ?? 0) + 1;
  }
  return counts;
}

/** The network Docker reports one instance on (exactly one). */
function networkOf(instance: string): string {
  const networks = networksInDocker()[instance];
  expect(networks).toHaveLength(1);
  return networks?.[0] ?? '';
}

/** Networks whose name starts with this scope's first network's, with or without labels. */
const scopeNetworkNames = (): string[] =>
  dockerSync('network', 'ls', '--format', '{{.Name}}')
    .split('\n')
    .filter((n) => n === NET1 || n.startsWith(`${NET1}-`));

/** The namesake network this file makes has no labels, so the label cleanup does not see it. */
const removeNamesake = () => {
  if (scopeNetworkNames().includes(NET4)) dockerSync('network', 'rm', NET4);
};

beforeAll(async () => {
  bed = await prepareScope({
    scope: SCOPE,
    ports: PORTS,
    env: { SPREADSERVE_NETWORK_SIZE: '2', MAX_INSTANCES_PER_USER: '0' },
  });
  removeNamesake();
  services = await open();
  await buildImage(services, 'demo');
}, 120_000);

afterAll(async () => {
  await services?.stop();
  removeNamesake();
  await bed?.cleanup();
  // then nothing of the scope is left: no container, and none of its networks (not only the first)
  expect(scopeContainers(SCOPE)).toEqual([]);
  expect(scopeNetworkNames()).toEqual([]);
}, 60_000);

describe('spreading instances over networks', () => {
  it('puts five concurrent launches on three networks, two at most each, all reachable', async () => {
    // given a network size of 2
    expect(bed.config.networkSize).toBe(2);
    // when five instances launch at once
    const names = ['spread1', 'spread2', 'spread3', 'spread4', 'spread5'];
    const records = await Promise.all(names.map((name) => services.instances.launch({ actor: alice, name })));

    // then Docker reports them 2, 2, 1 on the scope's first three networks, each on one network
    expect(countsInDocker()).toEqual({ [NET1]: 2, [NET2]: 2, [NET3]: 1 });
    // and each record names the network Docker reports its container on
    for (const r of records) expect(services.store.read().instances[r.name]?.network).toBe(networkOf(r.name));
    // and every instance's URL answers
    for (const r of records) await waitForHttp200(services.instances.url(r));
  }, 120_000);

  it('labels each network with the scope and turns inter-container traffic off', () => {
    for (const network of [NET1, NET2, NET3]) {
      // when Docker is asked about the network
      const info = JSON.parse(dockerSync('network', 'inspect', network))[0];
      // then it is a bridge with inter-container traffic off, carrying the scope's labels
      expect(info.Driver).toBe('bridge');
      expect(info.Options['com.docker.network.bridge.enable_icc']).toBe('false');
      expect(info.Labels[LABEL.scope]).toBe(SCOPE);
      expect(info.Labels[LABEL.managed]).toBe('true');
    }
  });

  it('reuses a slot freed on the first network', async () => {
    // given one instance of the first network stopped
    const onFirst = Object.entries(networksInDocker()).find(([, n]) => n[0] === NET1)?.[0] ?? '';
    await services.instances.stop(admin, onFirst);
    // when another instance launches
    const record = await services.instances.launch({ actor: bob, name: 'spread6' });
    // then it joins the first network, not the third one that has room too
    expect(networkOf('spread6')).toBe(NET1);
    expect(countsInDocker()).toEqual({ [NET1]: 2, [NET2]: 2, [NET3]: 1 });
    await waitForHttp200(services.instances.url(record));
  }, 60_000);

  it('keeps placing correctly after a restart on the same store', async () => {
    // given the bot restarted over the same store
    await services.stop();
    services = await open();
    await services.start();
    // when an instance of the first network stops and two launch
    const onFirst = Object.entries(networksInDocker()).find(([, n]) => n[0] === NET1)?.[0] ?? '';
    await services.instances.stop(admin, onFirst);
    await services.instances.launch({ actor: bob, name: 'spread7' });
    await services.instances.launch({ actor: bob, name: 'spread8' });
    // then the first takes the freed slot on the first network, the second the third network's room
    expect(networkOf('spread7')).toBe(NET1);
    expect(networkOf('spread8')).toBe(NET3);
    expect(countsInDocker()).toEqual({ [NET1]: 2, [NET2]: 2, [NET3]: 2 });
  }, 60_000);

  it('counts adopted containers on the networks Docker reports them on', async () => {
    // given the bot restarted with an empty store: it adopts the running containers
    await services.stop();
    services = await open(path.join(bed.dir, 'fresh-store.json'));
    await services.start();
    const adopted = services.store.read().instances;
    expect(Object.keys(adopted).sort()).toEqual(Object.keys(networksInDocker()).sort());
    // then each adopted record names the network Docker reports
    for (const [name, record] of Object.entries(adopted)) expect(record.network).toBe(networkOf(name));

    // when an instance of the third network stops and another launches
    const onThird = Object.entries(networksInDocker()).find(([, n]) => n[0] === NET3)?.[0] ?? '';
    await services.instances.stop(admin, onThird);
    await services.instances.launch({ actor: bob, name: 'spread9' });
    // then it takes that slot (the first two are full as Docker reports them, though the adopted
    // records were never launched by this bot)
    expect(networkOf('spread9')).toBe(NET3);
  }, 60_000);

  it("never joins a namesake network that is not the bot's", async () => {
    // given three full networks and an unlabelled network already holding the fourth's name
    expect(countsInDocker()).toEqual({ [NET1]: 2, [NET2]: 2, [NET3]: 2 });
    dockerSync('network', 'create', NET4);
    // when an instance launches (it needs the fourth network)
    const failure = await services.instances
      .launch({ actor: alice, name: 'spread10' })
      .catch((e: unknown) => e);
    // then the launch is refused, naming the network, and leaves nothing behind
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as UserError).kind).toBe('conflict');
    expect((failure as UserError).message).toMatch(`The Docker network ${NET4} exists but is not this bot's`);
    expect(scopeContainers(SCOPE, { instance: 'spread10' })).toEqual([]);
    expect(services.store.read().instances.spread10).toBeUndefined();
    expect(JSON.parse(dockerSync('network', 'inspect', NET4))[0].Containers).toEqual({});
  }, 60_000);
});
