import { defineConfig } from 'vitest/config';

// Three tiers. `fast` needs no Docker (parser, policy, rendering, config, store, architecture):
// `npm run test:fast` runs it alone in seconds, and `npm test` runs it first. `docker` holds the
// files named *.docker.test.ts, which drive the real engine and the real Bolt app. `swarm` holds
// *.swarm.test.ts: they share one two-node swarm its globalSetup builds (root needed), one file
// at a time.
const DOCKER_TESTS = 'test/**/*.docker.test.ts';
const SWARM_TESTS = 'test/**/*.swarm.test.ts';

export default defineConfig({
  test: {
    // Files run in parallel processes; each uses its own port range and labels, so they do not collide.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'fast', include: ['test/**/*.test.ts'], exclude: [DOCKER_TESTS, SWARM_TESTS] },
      },
      { extends: true, test: { name: 'docker', include: [DOCKER_TESTS] } },
      {
        extends: true,
        test: {
          name: 'swarm',
          include: [SWARM_TESTS],
          globalSetup: ['test/support/swarm-global-setup.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
});
