// The App Home tab: the user's instances with Stop / Extend, then the pool at a glance, within
// Slack's 100 blocks a view however many instances the user runs. Pure.
import type { types } from '@slack/bolt';
import type { InstanceView, Reply, StatusView } from '../commands/reply.ts';
import {
  andMore,
  BlockIds,
  capBlocks,
  context,
  type KnownBlock,
  LIMITS,
  plain,
  section,
  slackDate,
} from './blocks.ts';
import { instanceWithButtons } from './instance-blocks.ts';
import { launchModalIds } from './launch-modal.ts';
import { renderReply } from './render.ts';
import { poolBlocks } from './status-blocks.ts';

export interface HomeViewArgs {
  userId: string;
  instances: InstanceView[];
  status: StatusView;
  now: number;
  /** What a click in the tab just did: its summary line goes first. */
  notice?: Reply;
}

/** Opens the launch modal (bot/launch-listeners.ts). */
const launchButton: types.ActionsBlock = {
  type: 'actions',
  block_id: 'home:launch',
  elements: [
    {
      type: 'button',
      action_id: launchModalIds.homeButton,
      text: plain('Launch…', LIMITS.buttonText),
      value: 'launch',
      style: 'primary',
    },
  ],
};

export function renderHomeView(args: HomeViewArgs): types.HomeView {
  const mine = args.instances.filter((i) => i.owner === args.userId);
  const head: KnownBlock[] = [
    ...(args.notice ? renderReply(args.notice).blocks.slice(0, 1) : []),
    { type: 'header', text: plain('SpreadServe', LIMITS.headerText) },
    context(
      `Your instances and the port pool, as of ${slackDate(args.now, '{date_short_pretty} at {time}')}.`,
    ),
    launchButton,
    section(`*Your instances* (${mine.length})`),
  ];
  const pool: KnownBlock[] = [{ type: 'divider' }, ...poolBlocks(args.status, args.now)];
  const foot: KnownBlock[] = [
    context(
      'Launch one with the Launch button or `/spreadserve launch [template]`; `/spreadserve help` lists every command. ' +
        'Instances idle for a while are stopped after a warning.',
    ),
  ];
  const room = LIMITS.viewBlocks - head.length - pool.length - foot.length;
  let body: KnownBlock[];
  if (mine.length === 0) {
    body = [section('You have no instances running. Launch one with `/spreadserve launch`.')];
  } else {
    // Two blocks an instance (section, buttons); when they do not all fit, one more for the note.
    const ids = new BlockIds();
    const fit = mine.length * 2 <= room ? mine.length : Math.floor((room - 1) / 2);
    body = mine.slice(0, fit).flatMap((i) => instanceWithButtons(i, args.now, ids));
    if (fit < mine.length)
      body.push(context(andMore(mine.length - fit, 'instances: see `/spreadserve list mine`')));
  }
  return {
    type: 'home',
    blocks: capBlocks([...head, ...body, ...pool, ...foot], LIMITS.viewBlocks, 'blocks'),
  };
}
