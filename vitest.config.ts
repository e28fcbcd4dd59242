import { defineConfig } from 'vitest/config';

// Two tiers. `fast` needs no Docker (parser, policy, rendering, config, store, architecture):
// `npm run test:fast` runs it alone in seconds, and `npm test` runs it first. `docker` holds the
// files named *.docker.test.ts, which drive the real engine and the real Bolt app.
const DOCKER_TESTS = 'test/**/*.docker.test.ts';

export default defineConfig({
  test: {
    // Files run in parallel processes; each uses its own port range and labels, so they do not collide.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'fast', include: ['test/**/*.test.ts'], exclude: [DOCKER_TESTS] } },
      { extends: true, test: { name: 'docker', include: [DOCKER_TESTS] } },
    ],
  },
});
