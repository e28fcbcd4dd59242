// The swarm project's globalSetup (vitest.config.ts): builds the two-node test swarm once per run,
// provides its description to every swarm test file (`inject('swarm')`), and tears it down when
// the run ends, failed tests included. A machine that cannot build it (not root, a tool missing,
// no main engine) fails the run here with one sentence saying why: swarm tests never skip.
import type { TestProject } from 'vitest/node';
import { type SwarmInfo, startSwarm, teardownSwarm } from './swarm-fixture.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    swarm: SwarmInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const info = await startSwarm();
  console.log(`swarm fixture: two nodes Ready in ${Date.now() - started} ms`);
  project.provide('swarm', info);
  return async () => {
    const stopping = Date.now();
    await teardownSwarm(info);
    console.log(`swarm fixture: torn down in ${Date.now() - stopping} ms`);
  };
}
