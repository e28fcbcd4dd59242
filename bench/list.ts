// The list suite (issue 2): list at 100 running instances, Instances.observe and the `list all`
// command against one raw listContainers, alternating (A B B A ...).
import { dispatch } from '../commands/index.ts';
import { managedFilter } from '../core/labels.ts';
import type { Suite } from './harness.ts';
import { alternate, benchRow, ratio, side, timed } from './rows.ts';

const LIST_INSTANCES = 100;
const LIST_ROUNDS = 20;
const LIST_LAUNCH_CONCURRENCY = 4;

export const listSuite: Suite = {
  name: 'list',
  description: `list at ${LIST_INSTANCES} running instances: Instances.observe vs one raw listContainers`,
  needsDocker: true,
  async run(ctx) {
    const services = await ctx.services('list');
    ctx.log(
      `list: launching ${LIST_INSTANCES} instances through the core, ${LIST_LAUNCH_CONCURRENCY} at a time`,
    );
    const { wallMs } = await ctx.launchMany(services, LIST_INSTANCES, {
      concurrency: LIST_LAUNCH_CONCURRENCY,
      prefix: 'list',
    });
    const observed = await services.instances.observe();
    const running = observed.filter((o) => o.state === 'running').length;
    if (running !== LIST_INSTANCES) {
      throw new Error(`list: expected ${LIST_INSTANCES} running instances, observe() saw ${running}`);
    }

    // The same label filter DockerEngine.list sends (managed + scope), in one call.
    const label = Object.entries(managedFilter(ctx.scope)).map(([k, v]) => `${k}=${v}`);
    const raw = async () => {
      const rows = await ctx.docker.listContainers({ all: true, filters: { label } });
      if (rows.length !== LIST_INSTANCES) throw new Error(`raw listContainers saw ${rows.length}`);
    };
    const observe = async () => {
      const rows = await services.instances.observe();
      if (rows.length !== LIST_INSTANCES) throw new Error(`observe saw ${rows.length}`);
    };
    const command = async () => {
      const reply = await dispatch('list all', { actor: ctx.actor, services, prefix: '', log: services.log });
      if (reply.kind !== 'instances' || reply.instances.length !== LIST_INSTANCES) {
        throw new Error(`list all answered ${reply.summary}`);
      }
    };

    ctx.log('list: warm-up (2 each, not counted)');
    for (let i = 0; i < 2; i++) {
      await raw();
      await observe();
      await command();
    }
    const rawMs: number[] = [];
    const observeMs: number[] = [];
    const commandMs: number[] = [];
    const t = (fn: () => Promise<void>, into: number[]) => async () => void into.push((await timed(fn)).ms);
    ctx.log(`list: ${LIST_ROUNDS} rounds`);
    await alternate(
      ctx.signal,
      LIST_ROUNDS,
      async () => {
        await t(observe, observeMs)();
        await t(command, commandMs)();
      },
      t(raw, rawMs),
    );

    const baseline = side('raw dockerode listContainers, same label filter', rawMs);
    const ours = side('Instances.observe (one engine list + the store)', observeMs);
    const cmd = side('the `list all` command (dispatch: parse, observe, views)', commandMs);
    const target = { op: '<=' as const, value: 1.5, unit: 'x' as const, source: 'issue 2' };
    return [
      benchRow({
        suite: 'list',
        id: 'list.observe-vs-raw',
        name: `list at ${LIST_INSTANCES} instances`,
        ours,
        baseline,
        result: { label: 'median ratio', value: ratio(ours, baseline), unit: 'x' },
        target,
        notes: `${LIST_ROUNDS} rounds each after 2 warm-ups, alternating A/B`,
      }),
      benchRow({
        suite: 'list',
        id: 'list.command-vs-raw',
        name: `\`list all\` command at ${LIST_INSTANCES} instances`,
        ours: cmd,
        baseline,
        result: { label: 'median ratio', value: ratio(cmd, baseline), unit: 'x' },
        target,
        notes: 'the whole command as every front end runs it, against the same raw list',
      }),
      benchRow({
        suite: 'list',
        id: 'list.setup-launches',
        name: `set-up: ${LIST_INSTANCES} launches at concurrency ${LIST_LAUNCH_CONCURRENCY}`,
        ours: side(`Instances.launch x${LIST_INSTANCES}, ${LIST_LAUNCH_CONCURRENCY} in flight`, [wallMs]),
        result: { label: 'launches/s', value: (LIST_INSTANCES / wallMs) * 1000, unit: 'ops/s' },
        notes: 'informational: the launch rate while filling the host (FACTS: ~5/s at 4-8 in parallel)',
      }),
    ];
  },
};
