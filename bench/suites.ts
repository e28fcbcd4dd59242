// The suites `npm run bench` runs, in this order. EXTENSION POINT: a new suite is its own file
// exporting a `Suite` (see bench/harness.ts for the type and BenchContext for what it gets,
// bench/rows.ts for the rows it returns, and bench/launch.ts for an example); import it here and
// add it to SUITES.
//   issue 2, the core's: launch to first HTTP 200 (bench/launch.ts), list at 100 instances
//            (bench/list.ts), port reservations through the store (bench/ports.ts)
//   issue 3, Slack ack latency p50/p99 at concurrency 1/20/50 while launches run: bench/slack.ts
//            (pool ports 25170-25189; its load generator and the Slack stand-in run in a worker,
//            bench/slack-client.ts)
//   issue 5, one reclaim pass over 200 instances vs the one-shot stats alone:   bench/reclaim.ts
//            (SPREADSERVE_SAMPLER=stats; issue 12's row: the same pass with host counters)
//   issue 12, the production start (compiled vs tsx): bench/start.ts; N instances on one host,
//            only when named (`npm run bench -- scale --instances N [--network-size M]`):
//            bench/scale.ts, its own ports 30000-32767
//   issue 13, a launch on a two-node swarm vs the plain engine, only when named: bench/swarm.ts
// Suites run one after another; each may use the whole bench port range, and main.ts removes
// every container of the bench scope after each suite.
import type { Suite } from './harness.ts';
import { launchSuite } from './launch.ts';
import { listSuite } from './list.ts';
import { portsSuite } from './ports.ts';
import { reclaimSuite } from './reclaim.ts';
import { scaleSuite } from './scale.ts';
import { slackSuite } from './slack.ts';
import { startSuite } from './start.ts';
import { swarmSuite } from './swarm.ts';

export const SUITES: readonly Suite[] = [
  launchSuite,
  listSuite,
  portsSuite,
  slackSuite,
  reclaimSuite,
  startSuite,
  scaleSuite,
  swarmSuite,
];
