// Issue 13: what the orchestrator costs. A launch (to the first HTTP 200) through the core on a
// two-node Docker Swarm against the same launch through the core on the plain engine, alternating,
// each stopped again. The swarm is the test suite's (test/support/swarm-fixture.ts: two extra
// dockerds in network namespaces, root needed), built here and torn down after, even on failure.
// Only when named: `npm run bench -- swarm`.
import type { Services } from '../core/context.ts';
import { loadImage, nodeHost, startSwarm, teardownSwarm } from '../test/support/swarm-fixture.ts';
import type { Suite } from './harness.ts';
import { alternate, benchRow, ratio, side, timed } from './rows.ts';

const ROUNDS = 10;

export const swarmSuite: Suite = {
  name: 'swarm',
  description: `launch to first HTTP 200 on a two-node swarm vs the plain engine, ${ROUNDS} each, alternating (root)`,
  needsDocker: true,
  onlyWhenNamed: true,
  async run(ctx) {
    ctx.log('swarm: building a two-node swarm (test/support/swarm-fixture.ts)');
    const swarm = await startSwarm();
    try {
      await loadImage(swarm, ctx.template.image);
      const endpoints = swarm.nodes.map((n) => `${n.name}=${nodeHost(swarm, n.name)}`).join(',');
      const plain = await ctx.services('swarm-plain');
      const onSwarm = await ctx.services('swarm', {
        SPREADSERVE_ENGINE: 'swarm',
        DOCKER_HOST: swarm.managerHost,
        SPREADSERVE_NODE_ENDPOINTS: endpoints,
      });
      let seq = 0;
      const launch = (services: Services) => async (): Promise<number> => {
        const name = `swarm-bench-${seq++}`;
        const { ms } = await timed(() =>
          services.instances.launch({ actor: ctx.actor, template: 'demo', name }),
        );
        await services.instances.stop(ctx.actor, name);
        return ms;
      };
      ctx.log('swarm: warm-up (1 each, not counted)');
      await launch(onSwarm)();
      await launch(plain)();
      const swarmMs: number[] = [];
      const plainMs: number[] = [];
      ctx.log(`swarm: ${ROUNDS} rounds`);
      await alternate(
        ctx.signal,
        ROUNDS,
        async () => void swarmMs.push(await launch(onSwarm)()),
        async () => void plainMs.push(await launch(plain)()),
      );
      await onSwarm.stop();
      await plain.stop();
      const ours = side('Instances.launch on Swarm (a one-replica service, host-mode port)', swarmMs);
      const baseline = side('Instances.launch on the plain engine (a container)', plainMs);
      return [
        benchRow({
          suite: 'swarm',
          id: 'swarm.launch-vs-plain',
          name: 'launch demo to first HTTP 200 on Swarm',
          ours,
          baseline,
          result: { label: 'median ratio', value: ratio(ours, baseline), unit: 'x' },
          notes: `the orchestrator's cost: the same core, image and health poll; nodes alternate (fewest first); ${ROUNDS} each after 1 warm-up, alternating A/B`,
        }),
      ];
    } finally {
      await teardownSwarm(swarm);
    }
  },
};
