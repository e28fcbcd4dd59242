// Build progress without Docker or Slack: the Slack progress message's throttle and its
// response_url fallback (bot/progress.ts) on a fake clock, and the terminal's progress lines
// (cli/progress.ts). The real build, bot and CLI are in test/core/builds.docker.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ChatApi,
  type ProgressTimers,
  type ResponseMessage,
  SlackProgress,
} from '../../bot/progress.ts';
import { stepLine, TerminalProgress } from '../../cli/progress.ts';
import type { Reply } from '../../commands/reply.ts';
import { shellWords, stepOneTag } from '../../core/build-commit.ts';

interface Call {
  method: 'chat.postMessage' | 'chat.update';
  at: number;
  text: string;
}

/** A Web API stand-in on the fake clock; postMessage fails with `postError` when set. */
function fakeSlack(postError?: string) {
  const calls: Call[] = [];
  const responses: { at: number; body: ResponseMessage }[] = [];
  const client: ChatApi = {
    chat: {
      async postMessage(args) {
        calls.push({ method: 'chat.postMessage', at: Date.now(), text: args.text });
        if (postError) throw new Error(`An API error occurred: ${postError}`);
        return { channel: args.channel, ts: '1700000000.000100' };
      },
      async update(args) {
        calls.push({ method: 'chat.update', at: Date.now(), text: args.text });
        return { ok: true };
      },
    },
  };
  const respond = async (body: ResponseMessage) => {
    responses.push({ at: Date.now(), body });
  };
  return {
    client,
    respond,
    calls,
    responses,
    updates: () => calls.filter((c) => c.method === 'chat.update'),
  };
}

// The throttle's clock, injected: vitest's fake timers move it.
const timers: ProgressTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

const built: Reply = {
  kind: 'build',
  ok: true,
  visibility: 'ephemeral',
  summary: 'Built spreadserve/demo:0.3.1 (2.0 MB) in 4s.',
  build: {
    template: 'demo',
    tag: 'spreadserve/demo:0.3.1',
    imageId: 'sha256:0123456789abcdef',
    sizeBytes: 2_000_000,
    durationMs: 4000,
    strategy: 'commit',
  },
};

function progress(slack: ReturnType<typeof fakeSlack>): SlackProgress {
  return new SlackProgress({
    client: slack.client,
    respond: slack.respond,
    channel: 'CBUILDS',
    user: 'UADMIN',
    title: 'Building demo',
    command: '/spreadserve build demo',
    timers,
  });
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SlackProgress in a conversation the bot can post in', () => {
  it('posts one message and updates it at most once a second, however fast the steps come', async () => {
    const slack = fakeSlack();
    const p = progress(slack);
    const t0 = Date.now();
    // 50 steps, one every 70 ms: 3.5 s of build
    for (let i = 1; i <= 50; i++) {
      p.report(`step ${i}`, { index: i, total: 50 });
      await vi.advanceTimersByTimeAsync(70);
    }
    await Promise.all([p.finish(built), vi.advanceTimersByTimeAsync(2_000)]);

    const posts = slack.calls.filter((c) => c.method === 'chat.postMessage');
    expect(posts).toHaveLength(1);
    expect(posts[0]!.at).toBe(t0);
    const updates = slack.updates();
    // 3.5 s of steps: at most one update a second, plus the final state
    expect(updates.length).toBeGreaterThanOrEqual(3);
    expect(updates.length).toBeLessThanOrEqual(5);
    const times = [t0, ...updates.map((u) => u.at)];
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1000);
    // each shows the newest step at its time, and the last is the result
    expect(updates[0]!.text).toMatch(/^⏳ Building demo: step 1[45]\/50/);
    expect(updates.at(-1)!.text).toContain('Built spreadserve/demo:0.3.1');
    expect(p.where).toBe('message');
    expect(p.sent).toMatchObject({ posts: 1, responses: 0 });
  });

  it('folds a burst into one update a second later, with the newest step', async () => {
    const slack = fakeSlack();
    const p = progress(slack);
    for (let i = 1; i <= 10; i++) p.report(`step ${i}`, { index: i, total: 10 });
    await vi.advanceTimersByTimeAsync(999);
    expect(slack.updates()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(slack.updates().map((u) => u.text)).toEqual([
      expect.stringMatching(/step 10\/10, step 10 \(1s\)$/),
    ]);
    // nothing new: no more updates
    await vi.advanceTimersByTimeAsync(5_000);
    expect(slack.updates()).toHaveLength(1);
  });

  it('writes the final state even right after an update, waiting out the second', async () => {
    const slack = fakeSlack();
    const p = progress(slack);
    const t0 = Date.now();
    p.report('Building the step-one image');
    await vi.advanceTimersByTimeAsync(100);
    const done = p.finish(built);
    await vi.advanceTimersByTimeAsync(899);
    expect(slack.updates()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    await done;
    expect(slack.updates()).toHaveLength(1);
    expect(slack.updates()[0]).toMatchObject({ at: t0 + 1000, text: expect.stringContaining('Built') });
  });

  it('posts nothing for a command that never reported a step (refused, failed early)', async () => {
    const slack = fakeSlack();
    const p = progress(slack);
    await p.finish({
      kind: 'message',
      ok: false,
      visibility: 'ephemeral',
      summary: 'Only admins may build.',
    });
    expect(slack.calls).toEqual([]);
    expect(slack.responses).toEqual([]);
    expect(p.where).toBe('none');
  });
});

describe('SlackProgress where the bot cannot post', () => {
  it('falls back to the response_url: a start and at most 3 milestones, never an update', async () => {
    for (const total of [1, 2, 5, 7, 40]) {
      const slack = fakeSlack('channel_not_found');
      const p = progress(slack);
      p.report('Building the step-one image');
      await vi.advanceTimersByTimeAsync(50); // postMessage answers
      for (let i = 1; i <= total; i++) {
        p.report(`step ${i}`, { index: i, total });
        await vi.advanceTimersByTimeAsync(300);
      }
      await Promise.all([p.finish(built), vi.advanceTimersByTimeAsync(2_000)]);
      expect(p.where).toBe('response_url');
      expect(slack.updates()).toEqual([]);
      // the caller's reply is the fifth post at most
      expect(slack.responses.length, `${total} steps`).toBeLessThanOrEqual(4);
      expect(slack.responses[0]!.body.text).toBe('⏳ Building demo: Building the step-one image');
      expect(slack.responses[0]!.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
      expect(JSON.stringify(slack.responses[0]!.body.blocks)).toContain('cannot post in this conversation');
      if (total >= 5) {
        // a milestone each time the counter passes a quarter of the way
        expect(slack.responses.map((r) => r.body.text.replace(/:.*/, ''))).toEqual([
          '⏳ Building demo',
          `⏳ Building demo (step ${Math.ceil(total / 4)}/${total})`,
          `⏳ Building demo (step ${Math.ceil(total / 2)}/${total})`,
          `⏳ Building demo (step ${Math.ceil((3 * total) / 4)}/${total})`,
        ]);
      }
    }
  });

  it('keeps going when the response_url refuses a post', async () => {
    const slack = fakeSlack('not_in_channel');
    const p = new SlackProgress({
      client: slack.client,
      respond: async () => {
        throw new Error('response_url expired');
      },
      channel: 'DOTHER',
      user: 'UADMIN',
      title: 'Building demo',
      timers,
    });
    p.report('step 1', { index: 1, total: 4 });
    await vi.advanceTimersByTimeAsync(50);
    p.report('step 2', { index: 2, total: 4 });
    await expect(p.finish(built)).resolves.toBeUndefined();
    expect(p.sent.responses).toBe(2);
  });
});

describe('terminal progress', () => {
  const CLEAR = '\r\u001b[2K'; // carriage return, erase the line
  it('prints a line per step when stderr is not a terminal', () => {
    const out: string[] = [];
    const p = new TerminalProgress({ write: (t) => out.push(t), tty: false });
    p.report('Building the step-one image');
    p.report('FROM spreadserve/base:busybox', { index: 1, total: 5 });
    p.done();
    expect(out).toEqual(['… Building the step-one image\n', '… [1/5] FROM spreadserve/base:busybox\n']);
    expect(stepLine('x', { index: 4, total: 5 })).toBe('[4/5] x');
  });

  it('redraws one line with a spinner, a bar and the counter on a terminal, and clears it', () => {
    const out: string[] = [];
    const p = new TerminalProgress({ write: (t) => out.push(t), tty: true, columns: 60, spinMs: 0 });
    p.report('Running the installer /install/ss031.sh /S in a container', { index: 4, total: 5 });
    expect(out).toHaveLength(1);
    expect(out[0]!.startsWith(CLEAR)).toBe(true);
    expect(out[0]!.slice(CLEAR.length)).toMatch(/^. \[█{16}░{4}\] 4\/5 0ms Running the installer/);
    expect([...p.render()].length).toBeLessThanOrEqual(59);
    expect(p.render().endsWith('…')).toBe(true);
    expect(out.join('')).not.toContain('\n');
    p.done();
    expect(out.at(-1)).toBe(CLEAR);
  });
});

describe('build helpers', () => {
  it('names a step-one image beside the template image, unique per build', () => {
    const a = stepOneTag('spreadserve/demo:0.3.1');
    expect(a).toMatch(/^spreadserve\/demo:0\.3\.1-step-one-[0-9a-f]{6}$/);
    expect(stepOneTag('spreadserve/demo:0.3.1')).not.toBe(a);
    expect(stepOneTag('registry:5000/demo')).toMatch(/^registry:5000\/demo:latest-step-one-/);
  });

  it('shows an install command as one would type it', () => {
    expect(shellWords(['/install/ss031.sh', '/S'])).toBe('/install/ss031.sh /S');
    expect(shellWords(['sh', '-c', "echo it's; exit 23"])).toBe(`sh -c 'echo it'\\''s; exit 23'`);
  });
});
