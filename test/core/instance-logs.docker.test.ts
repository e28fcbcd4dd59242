// `logs` on an instance whose container is not known yet (a launch still starting, no container
// id in the store) refuses with one sentence, and never asks Docker by the bare container name,
// which may belong to another bot's scope on the same host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerEngine } from '../../engine/docker.ts';
import { UserError } from '../../lib/errors.ts';
import { alice, type TestBed, testBed } from '../support/services.ts';

const SCOPE = 'test-instance-logs';
const PORT = 24980;
let bed: TestBed;
const asked: string[] = [];

/** The real engine, noting every container whose logs are asked for. */
class NotingEngine extends DockerEngine {
  override logs(idOrName: string, lines: number): Promise<string[]> {
    asked.push(idOrName);
    return super.logs(idOrName, lines);
  }
}

beforeAll(async () => {
  bed = await testBed({ scope: SCOPE, ports: `${PORT}-${PORT + 1}`, engine: new NotingEngine({}) });
  // an instance whose launch is still starting: its port reserved, no container id yet
  await bed.services.store.update((doc) => {
    doc.instances.early = {
      name: 'early',
      owner: alice.id,
      template: 'demo',
      port: PORT,
      state: 'starting',
      createdAt: Date.now(),
      lastActivityAt: Date.now(),
    };
    doc.ports[String(PORT)] = { state: 'reserved', instance: 'early', since: Date.now() };
  });
}, 120_000);

afterAll(async () => {
  await bed?.cleanup();
});

describe('logs before the container is known', () => {
  it('refuses in one sentence and asks Docker for nothing', async () => {
    const err = await bed.services.instances.logs(alice, 'early', 50).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).kind).toBe('conflict');
    expect((err as UserError).message).toBe(
      'early is still starting and its container is not known yet; try `logs early` again in a moment.',
    );
    expect(asked).toEqual([]);
  });
});
