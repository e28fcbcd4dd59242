import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../../core/context.ts';
import { LABEL } from '../../core/labels.ts';
import { DockerEngine } from '../../engine/docker.ts';
import { UserError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { dockerSync, httpGet, scopeContainers, waitForHttp200 } from '../support/docker.ts';
import {
  admin,
  alice,
  bob,
  buildImage,
  leftovers,
  realTemplates,
  type TestBed,
  testBed,
  testConfig,
} from '../support/services.ts';

const SCOPE = 'test-instances';
const FIRST = 24200;
const templates = realTemplates(SCOPE, {
  mute: { command: ['sleep', '300'], startTimeoutMs: 2_000, description: 'never listens' },
  crash: { command: ['sh', '-c', 'echo boom; exit 7'], startTimeoutMs: 20_000, description: 'exits at once' },
});
let bed: TestBed;

const docker = dockerSync;
const containersOf = (name: string) => scopeContainers(SCOPE, { instance: name });
const labelsOf = (name: string): Record<string, string> =>
  JSON.parse(docker('inspect', '--format', '{{json .Config.Labels}}', `spreadserve-${name}`));

async function rejection(p: Promise<unknown>): Promise<UserError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected a rejection');
}

const snapshot = () => leftovers(bed.services, SCOPE);

beforeAll(async () => {
  bed = await testBed({
    scope: SCOPE,
    ports: `${FIRST}-${FIRST + 19}`,
    templates,
    env: { MAX_INSTANCES_PER_USER: '2' },
  });
  await buildImage(bed.services, 'demo');
  // The other templates share the demo image under their own tags.
  for (const t of ['mute', 'crash']) docker('tag', templates.get('demo')!.image, templates.get(t)!.image);
});

afterAll(async () => {
  await bed?.cleanup();
});

describe('launch, list, stop', () => {
  it('launches the demo: its URL answers 200 with the page, labels as PRODUCT.md says', async () => {
    // when alice launches the demo
    const record = await bed.services.instances.launch({ actor: alice, template: 'demo', name: 'alpha' });

    // then it runs on the lowest pool port and its page shows SSROOT and the owner
    expect(record.port).toBe(FIRST);
    expect(record.state).toBe('running');
    const body = await waitForHttp200(`http://127.0.0.1:${record.port}/`);
    expect(body).toContain('/spreadserve/ss0.3.1');
    expect(body).toContain('UALICE');
    expect(labelsOf('alpha')).toMatchObject({
      'org.spreadserve.managed': 'true',
      'org.spreadserve.instance': 'alpha',
      'org.spreadserve.owner': 'UALICE',
      'org.spreadserve.template': 'demo',
      'org.spreadserve.port': String(FIRST),
    });
    expect(bed.services.store.read().ports[FIRST]).toMatchObject({ state: 'in-use', instance: 'alpha' });

    // and list sees it running, from one engine call
    const listed = await bed.services.instances.observe();
    expect(listed.map((o) => [o.record.name, o.state, o.url])).toEqual([
      ['alpha', 'running', `http://127.0.0.1:${FIRST}`],
    ]);
  });

  it('refuses a stop by someone else, and the owner stop frees the port for the next launch', async () => {
    const err = await rejection(bed.services.instances.stop(bob, 'alpha'));
    expect(err.kind).toBe('forbidden');
    expect(containersOf('alpha')).toHaveLength(1);

    await bed.services.instances.stop(alice, 'alpha');
    expect(containersOf('alpha')).toHaveLength(0);
    expect(bed.services.store.read().ports[FIRST]).toBeUndefined();
    expect(await httpGet(`http://127.0.0.1:${FIRST}/`, 500)).toBeNull();

    const next = await bed.services.instances.launch({ actor: alice, template: 'demo', name: 'beta' });
    expect(next.port).toBe(FIRST); // freed ports are reused, lowest first
    await bed.services.instances.stop(admin, 'beta'); // admins may stop anything
    expect(containersOf('beta')).toHaveLength(0);
  });

  it('stops once when two stops of one instance arrive together; the second hears it is gone', async () => {
    // given a running instance
    await bed.services.instances.launch({ actor: alice, template: 'demo', name: 'twice' });
    // when its owner and an admin stop it at the same moment (a double click, a racing pass)
    const [first, second] = await Promise.allSettled([
      bed.services.instances.stop(alice, 'twice'),
      bed.services.instances.stop(admin, 'twice'),
    ]);
    // then one stop did it, the other is told the instance is gone (not an internal error)
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('rejected');
    const err = second.status === 'rejected' ? second.reason : undefined;
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).kind).toBe('not-found');
    const stops = bed.services.store
      .read()
      .audit.filter((e) => e.instance === 'twice' && e.action === 'stop');
    expect(stops).toHaveLength(1);
    expect(scopeContainers(bed.scope, { instance: 'twice' })).toEqual([]);
  });

  it('gives concurrent launches distinct ports', async () => {
    const names = ['c1', 'c2', 'c3', 'c4', 'c5'];
    const records = await Promise.all(
      names.map((name) => bed.services.instances.launch({ actor: admin, name })),
    );
    const ports = records.map((r) => r.port);
    expect(new Set(ports).size).toBe(names.length);
    for (const r of records) expect(await waitForHttp200(`http://127.0.0.1:${r.port}/`)).toContain(r.name);
    await Promise.all(names.map((n) => bed.services.instances.stop(admin, n)));
    expect(Object.keys(bed.services.store.read().ports)).toEqual([]);
  });

  it('removes a container that never answers, frees its port and says so', async () => {
    const before = snapshot();
    const err = await rejection(
      bed.services.instances.launch({ actor: alice, template: 'mute', name: 'silent' }),
    );
    expect(err.kind).toBe('unhealthy');
    expect(err.message).toMatch(/silent did not answer on \/ within 2s; it was removed and its port freed/);
    expect(containersOf('silent')).toHaveLength(0);
    expect(snapshot()).toEqual(before);
  });

  it('reports a container that exits while starting, with its exit code and output', async () => {
    const before = snapshot();
    const err = await rejection(
      bed.services.instances.launch({ actor: alice, template: 'crash', name: 'crashy' }),
    );
    expect(err.kind).toBe('unhealthy');
    expect(err.message).toMatch(/crashy exited with code 7/);
    expect(err.details.join('\n')).toContain('boom');
    expect(containersOf('crashy')).toHaveLength(0);
    expect(snapshot()).toEqual(before);
  });

  it('sets aside a pool port held by another process and launches on the next one', async () => {
    // given a plain Node server holding the lowest pool port
    const holder = net.createServer(() => undefined);
    await new Promise<void>((r) => holder.listen(FIRST, '127.0.0.1', r));
    try {
      // when a launch is made
      const record = await bed.services.instances.launch({ actor: alice, name: 'gamma' });

      // then it lands on the next port, and the held one is set aside and shown by status
      expect(record.port).toBe(FIRST + 1);
      expect(await waitForHttp200(`http://127.0.0.1:${record.port}/`)).toContain('gamma');
      const counts = bed.services.pool.counts(bed.services.store.read());
      expect(counts.setAside).toEqual([FIRST]);
      expect(bed.services.store.read().ports[FIRST]).toMatchObject({ state: 'set-aside' });
      await bed.services.instances.stop(alice, 'gamma');
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });
});

describe('bad input leaves nothing behind', () => {
  it.each([
    [
      'an unknown template',
      { template: 'nope' },
      'not-found',
      /There is no template "nope"; known templates: demo/,
    ],
    ['a bad name', { name: 'A' }, 'usage', /"A" is not a valid name/],
    ['a name with shell characters', { name: 'x; rm -rf /' }, 'usage', /is not a valid name/],
    ['a 3000-character name', { name: 'a'.repeat(3000) }, 'usage', /is not a valid name/],
  ])('refuses %s', async (_what, request, kind, message) => {
    const before = snapshot();
    const err = await rejection(bed.services.instances.launch({ actor: alice, ...request }));
    expect(err.kind).toBe(kind);
    expect(err.message).toMatch(message);
    expect(snapshot()).toEqual(before);
  });

  it('refuses a name already taken, and a launch past the quota', async () => {
    await bed.services.instances.launch({ actor: bob, name: 'taken' });
    const before = snapshot();
    const taken = await rejection(bed.services.instances.launch({ actor: alice, name: 'taken' }));
    expect(taken.kind).toBe('conflict');
    expect(taken.message).toBe('The name taken is taken; choose another with --name.');
    await bed.services.instances.launch({ actor: bob, name: 'taken-2' });
    const quota = await rejection(bed.services.instances.launch({ actor: bob, name: 'taken-3' }));
    expect(quota.kind).toBe('quota');
    expect(quota.message).toMatch(/You already run 2 of your 2 instances/);
    expect(snapshot().instances).toEqual(['taken', 'taken-2']);
    expect(before.instances).toEqual(['taken']);
    await bed.services.instances.stop(bob, 'taken');
    await bed.services.instances.stop(bob, 'taken-2');
  });

  it('says the image is not built and tells admins the command', async () => {
    const unbuilt = realTemplates(`${SCOPE}-unbuilt`);
    const other = await testBed({
      scope: `${SCOPE}-unbuilt`,
      ports: `${FIRST + 30}-${FIRST + 31}`,
      templates: unbuilt,
    });
    const err = await rejection(other.services.instances.launch({ actor: alice }));
    expect(err.kind).toBe('not-found');
    expect(err.message).toMatch(/is not built yet; an admin can type `build demo`/);
    expect(other.services.store.read().instances).toEqual({});
  });

  it('gives a clear error when Docker is unreachable, and leaves the store unchanged', async () => {
    const dir = bed.dir;
    const config = testConfig(
      {
        scope: SCOPE,
        ports: `${FIRST}-${FIRST + 19}`,
        env: { DOCKER_HOST: 'unix:///tmp/no-such-docker.sock' },
      },
      `${dir}/unreachable`,
    );
    const services = await createServices(config, {
      engine: new DockerEngine({ dockerHost: config.dockerHost }),
      log: silentLogger(),
      templates,
    });
    const before = readFileSync(config.dataFile, 'utf8');
    const err = await rejection(services.instances.launch({ actor: alice, name: 'nowhere' }));
    expect(err.kind).toBe('engine-unreachable');
    expect(err.message).toMatch(/Docker is not reachable at .*no-such-docker\.sock/);
    expect(readFileSync(config.dataFile, 'utf8')).toBe(before);
  });
});

describe('reconcile', () => {
  it('adopts a managed container created behind the store’s back', async () => {
    const image = templates.get('demo')!.image;
    docker(
      'run',
      '-d',
      '--name',
      'spreadserve-stray',
      '-p',
      `127.0.0.1:${FIRST + 10}:80`,
      '--label',
      `${LABEL.managed}=true`,
      '--label',
      `${LABEL.scope}=${SCOPE}`,
      '--label',
      `${LABEL.instance}=stray`,
      '--label',
      `${LABEL.owner}=UCAROL`,
      '--label',
      `${LABEL.template}=demo`,
      '--label',
      `${LABEL.port}=${FIRST + 10}`,
      image,
      '/spreadserve/ss0.3.1/sh/dbaseweb.sh',
    );
    const report = await bed.services.reconcile({ atStart: false });
    expect(report.adopted).toEqual(['stray']);
    expect(bed.services.store.read().instances.stray).toMatchObject({
      owner: 'UCAROL',
      port: FIRST + 10,
      state: 'running',
    });
    expect(bed.services.store.read().ports[FIRST + 10]).toMatchObject({ state: 'in-use', instance: 'stray' });
    await bed.services.instances.stop(admin, 'stray');
  });

  it('closes an entry whose container was removed with docker rm -f, and frees its port', async () => {
    const record = await bed.services.instances.launch({ actor: alice, name: 'doomed' });
    docker('rm', '-f', 'spreadserve-doomed');
    const report = await bed.services.reconcile({ atStart: false });
    expect(report.closed).toEqual(['doomed']);
    expect(bed.services.store.read().instances.doomed).toBeUndefined();
    expect(bed.services.store.read().ports[record.port]).toBeUndefined();
  });

  it('frees the port of a launch that never finished (the bot was killed), at the next start', async () => {
    await bed.services.store.update((doc) => {
      doc.instances.halfway = {
        name: 'halfway',
        owner: 'UALICE',
        template: 'demo',
        port: FIRST + 12,
        state: 'starting',
        createdAt: 1,
        lastActivityAt: 1,
      };
      doc.ports[FIRST + 12] = { state: 'reserved', instance: 'halfway', since: 1 };
      doc.ports[FIRST + 13] = { state: 'reserved', instance: 'ghost', since: 1 };
    });
    const report = await bed.services.reconcile({ atStart: true });
    expect(report.closed).toContain('halfway');
    expect(report.freedPorts).toContain(FIRST + 13);
    expect(bed.services.store.read().ports[FIRST + 12]).toBeUndefined();
  });
});
