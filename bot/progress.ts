// Progress of long work (a build) in Slack, as it happens.
//
// - One message in the conversation (`chat.postMessage` on the first step), then `chat.update`
//   on it, at most once per `minIntervalMs` (1 s, counted from Slack's answer to the previous
//   call): steps arriving faster are folded into the next update; the final state is always
//   written, also waiting for the interval.
// - Where the bot cannot post there (postMessage fails: not_in_channel, channel_not_found, a DM
//   it is not part of, ...) it falls back to the command's response_url, which Slack allows only
//   5 uses in 30 minutes: a start, at most `maxMilestones` (3) milestones (the step counter
//   crossing a quarter of the way), and the result, which the caller sends as its reply.
//
// No Slack SDK import: the client is anything with chat.postMessage / chat.update, the
// response_url any function, and time comes from injectable timers.
import type { Reply } from '../commands/reply.ts';
import type { ProgressStep } from '../commands/types.ts';
import { formatDuration } from '../lib/duration.ts';
import { describeError } from '../lib/errors.ts';
import { bar, clip } from '../lib/format.ts';
import type { Logger } from '../lib/log.ts';
import { context, escapeMrkdwn, type KnownBlock, LIMITS, mention, section } from './blocks.ts';
import { renderReply } from './render.ts';

export interface ChatApi {
  chat: {
    postMessage(args: {
      channel: string;
      text: string;
      blocks: KnownBlock[];
    }): Promise<{ channel?: string; ts?: string }>;
    update(args: { channel: string; ts: string; text: string; blocks: KnownBlock[] }): Promise<unknown>;
  };
}

export interface ResponseMessage {
  response_type: 'ephemeral';
  replace_original: false;
  text: string;
  blocks: KnownBlock[];
}

export type RespondLike = (message: ResponseMessage) => Promise<unknown>;

/** The clock and timers the throttle uses; tests pass a fake. */
export interface ProgressTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: ProgressTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface SlackProgressOptions {
  client: ChatApi;
  respond: RespondLike;
  /** The conversation the command was typed in. */
  channel: string;
  /** Who asked (a Slack user id). */
  user: string;
  /** What is happening, e.g. "Building demo". */
  title: string;
  /** The command as typed, e.g. "/spreadserve build demo", shown under the result. */
  command?: string;
  log?: Logger;
  timers?: ProgressTimers;
  /** Default 1000: Slack's pace for updating one message. */
  minIntervalMs?: number;
  /** Default 3: response_url allows 5 posts, and the start and the result take two. */
  maxMilestones?: number;
}

interface State {
  line: string;
  step?: ProgressStep;
}

type Mode = 'idle' | 'starting' | 'message' | 'fallback';

const BAR_CELLS = 10;
const MAX_LINE = 500;

export class SlackProgress {
  private mode: Mode = 'idle';
  private latest: State | undefined;
  private version = 0;
  private sentVersion = 0;
  private target: { channel: string; ts: string } | undefined;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private timer: unknown;
  private inFlight: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private fallbackChain: Promise<void> = Promise.resolve();
  private lastQuarter = 0;
  private finished = false;
  private readonly startedAt: number;
  private readonly timers: ProgressTimers;
  private readonly minIntervalMs: number;
  private readonly maxMilestones: number;
  /** What was sent, for logs and tests. */
  readonly sent = { posts: 0, updates: 0, responses: 0, milestones: 0 };

  constructor(private readonly options: SlackProgressOptions) {
    this.timers = options.timers ?? realTimers;
    this.minIntervalMs = options.minIntervalMs ?? 1_000;
    this.maxMilestones = options.maxMilestones ?? 3;
    this.startedAt = this.timers.now();
  }

  /** Where progress went: a message the bot posted, the response_url, or nowhere yet. */
  get where(): 'message' | 'response_url' | 'none' {
    return this.mode === 'message' ? 'message' : this.mode === 'fallback' ? 'response_url' : 'none';
  }

  /** The CommandContext `progress` callback. Never throws, never waits. */
  readonly report = (line: string, step?: ProgressStep): void => {
    if (this.finished) return;
    const state: State = { line, step };
    this.latest = state;
    this.version += 1;
    switch (this.mode) {
      case 'idle':
        this.mode = 'starting';
        this.starting = this.start(state);
        break;
      case 'message':
        this.schedule();
        break;
      case 'fallback':
        this.milestone(state);
        break;
      case 'starting':
        break; // start() picks up the latest state when it settles
    }
  };

  /**
   * Writes the final state into the progress message, if one was posted (waiting out the
   * interval). The caller still sends `reply` through the response_url: in fallback mode that is
   * the result, the last of the five posts.
   */
  async finish(reply: Reply): Promise<void> {
    this.finished = true;
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.starting;
    await this.inFlight;
    await this.fallbackChain;
    if (this.mode !== 'message' || !this.target) return;
    await this.sleep(this.lastSentAt + this.minIntervalMs - this.timers.now());
    const rendered = renderReply(reply);
    const who = `${this.options.command ? `\`${escapeMrkdwn(this.options.command)}\`` : this.options.title}, asked by ${mention(this.options.user)}`;
    const blocks: KnownBlock[] = [...rendered.blocks.slice(0, LIMITS.messageBlocks - 1), context(who)];
    await this.update({ text: rendered.text, blocks });
  }

  // ---- message mode ----------------------------------------------------------------------

  /** Posts the progress message with the `first` step; later steps wait for it. */
  private async start(first: State): Promise<void> {
    const version = this.version;
    const message = this.progressMessage(first);
    try {
      this.lastSentAt = this.timers.now();
      this.sent.posts += 1;
      const posted = await this.options.client.chat.postMessage({
        channel: this.options.channel,
        ...message,
      });
      this.lastSentAt = this.timers.now();
      if (!posted.ts) throw new Error('chat.postMessage answered without a ts');
      this.target = { channel: posted.channel ?? this.options.channel, ts: posted.ts };
      this.sentVersion = version;
      this.mode = 'message';
      if (this.version !== this.sentVersion) this.schedule();
    } catch (err) {
      this.options.log?.info(
        { channel: this.options.channel, err: describeError(err) },
        'cannot post progress in the conversation; falling back to the response_url',
      );
      this.mode = 'fallback';
      // Steps that came while the post was on its way are newer than `first`.
      const state = this.latest ?? first;
      this.lastQuarter = quarter(state.step);
      this.respondInOrder(this.fallbackMessage(state, 'start'));
    }
  }

  private schedule(): void {
    if (this.finished || this.timer !== undefined || this.inFlight) return;
    const wait = Math.max(0, this.lastSentAt + this.minIntervalMs - this.timers.now());
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.flush().finally(() => {
        this.inFlight = undefined;
        if (this.version !== this.sentVersion) this.schedule();
      });
    }, wait);
  }

  private async flush(): Promise<void> {
    if (this.finished || this.version === this.sentVersion || !this.latest) return;
    this.sentVersion = this.version;
    await this.update(this.progressMessage(this.latest));
  }

  private async update(message: { text: string; blocks: KnownBlock[] }): Promise<void> {
    if (!this.target) return;
    this.lastSentAt = this.timers.now();
    this.sent.updates += 1;
    try {
      await this.options.client.chat.update({ ...this.target, ...message });
    } catch (err) {
      this.options.log?.warn(
        { ...this.target, err: describeError(err) },
        'could not update a progress message',
      );
    } finally {
      // Counted from the answer: Slack then sees the next call at least the interval later.
      this.lastSentAt = this.timers.now();
    }
  }

  // ---- response_url fallback ---------------------------------------------------------------

  private milestone(state: State): void {
    const q = quarter(state.step);
    if (this.sent.milestones >= this.maxMilestones || q <= this.lastQuarter || q >= 4) return;
    this.lastQuarter = q;
    this.sent.milestones += 1;
    this.respondInOrder(this.fallbackMessage(state, 'milestone'));
  }

  private respondInOrder(message: { text: string; blocks: KnownBlock[] }): void {
    this.sent.responses += 1;
    this.fallbackChain = this.fallbackChain.then(async () => {
      try {
        await this.options.respond({ response_type: 'ephemeral', replace_original: false, ...message });
      } catch (err) {
        this.options.log?.warn({ err: describeError(err) }, 'could not post progress to the response_url');
      }
    });
  }

  // ---- text ------------------------------------------------------------------------------

  private progressMessage(state: State): { text: string; blocks: KnownBlock[] } {
    const elapsed = formatDuration(this.timers.now() - this.startedAt);
    const title = escapeMrkdwn(this.options.title);
    const counter = state.step ? `step ${state.step.index}/${state.step.total}` : 'starting';
    const line = escapeMrkdwn(clip(state.line, MAX_LINE));
    const steps = state.step ? `\`${bar(state.step.index, state.step.total, { cells: BAR_CELLS })}\` ` : '';
    return {
      text: `⏳ ${this.options.title}: ${counter}, ${clip(state.line, MAX_LINE)} (${elapsed})`,
      blocks: [
        section(`⏳ *${title}* for ${mention(this.options.user)} · ${elapsed}\n${steps}${counter}\n${line}`),
      ],
    };
  }

  private fallbackMessage(state: State, kind: 'start' | 'milestone'): { text: string; blocks: KnownBlock[] } {
    const counter = state.step ? ` (step ${state.step.index}/${state.step.total})` : '';
    const note =
      kind === 'start'
        ? ' The bot cannot post in this conversation, so a few milestones and the result come here.'
        : '';
    const text = `⏳ ${this.options.title}${counter}: ${clip(state.line, MAX_LINE)}`;
    return {
      text,
      blocks: [
        section(
          `⏳ *${escapeMrkdwn(this.options.title)}*${counter}: ${escapeMrkdwn(clip(state.line, MAX_LINE))}${note}`,
        ),
      ],
    };
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.timers.setTimeout(resolve, ms));
  }
}

/** 0..4: how many quarters of the way a step counter is. */
function quarter(step: ProgressStep | undefined): number {
  if (!step || step.total <= 0) return 0;
  return Math.floor((4 * Math.min(step.index, step.total)) / step.total);
}
