// The Slack renderers (bot/render.ts, home.ts, reclaim-messages.ts) against golden files, plus
// Slack's limits checked over every fixture; and a smoke test of the Slack stand-in and the
// request signer the bot tests build on.
// Update the golden files after an intended change: UPDATE_GOLDEN=1 npx vitest run test/bot/render.test.ts
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isValidSlackRequest, webApi } from '@slack/bolt';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buttonIds, type KnownBlock, LIMITS } from '../../bot/blocks.ts';
import { renderHomeView } from '../../bot/home.ts';
import { renderOpsSummary, renderWarningDM } from '../../bot/reclaim-messages.ts';
import { renderReply } from '../../bot/render.ts';
import { poolBar } from '../../bot/status-blocks.ts';
import type { InstanceView, Reply, StatusView, TemplateView } from '../../commands/reply.ts';
import type { ReclaimAction, ReclaimReport, ReclaimWarning } from '../../core/notifier.ts';
import { checkLimits, type Json, textOf } from '../support/slack-limits.ts';
import {
  blockAction,
  event,
  postToBot,
  signature,
  signHeaders,
  slashCommand,
  TEST_SIGNING_SECRET,
} from '../support/slack-requests.ts';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in.ts';

const GOLDEN_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

// ---------------------------------------------------------------------------------------------
// Fixtures (given)

function instance(n: number, over: Partial<InstanceView> = {}): InstanceView {
  const name = `demo-${n}`;
  return {
    name,
    owner: n % 3 === 0 ? 'UADMIN01' : 'UALICE01',
    template: 'demo',
    port: 8080 + n,
    url: `http://spreadserve.example:${8080 + n}`,
    state: 'running',
    createdAt: NOW - (n + 1) * 37 * MIN,
    lastActivityAt: NOW - (n % 7) * 11 * MIN,
    ...over,
  };
}

const status: StatusView = {
  engine: { reachable: true },
  store: { writable: true },
  instances: { running: 305, starting: 2 },
  ports: { total: 1000, free: 690, reserved: 2, inUse: 305, setAside: [8090, 8091, 8092] },
  reclaim: {
    lastPassAt: NOW - 3 * MIN,
    nextPassAt: NOW + 2 * MIN,
    lastSummary: 'stopped 2 idle instances, warned 1',
  },
  failures: [
    { at: NOW - 40 * MIN, instance: 'demo-7', error: 'container never answered GET / within 60s' },
    { at: NOW - 5 * MIN, error: 'Docker stats timed out' },
  ],
};

const degradedStatus: StatusView = {
  engine: { reachable: false, error: 'connect ENOENT /var/run/docker.sock' },
  store: { writable: false, error: 'data/spreadserve.json is not valid JSON <line 3>' },
  instances: { running: 0, starting: 0 },
  ports: {
    total: 1000,
    free: 3,
    reserved: 0,
    inUse: 967,
    setAside: Array.from({ length: 30 }, (_, k) => 9000 + k),
  },
  reclaim: {},
  failures: Array.from({ length: 9 }, (_, k) => ({
    at: NOW - k * MIN,
    instance: `demo-${k}`,
    error: `failure number ${k}`,
  })),
};

const templates: TemplateView[] = [
  {
    name: 'demo',
    description: 'SpreadServe demo server',
    image: 'spreadserve/demo:0.3.1',
    strategy: 'commit',
    platform: 'linux',
    built: true,
    sizeBytes: 245_300_000,
    imageCreatedAt: NOW - 26 * HOUR,
    lastBuild: { by: 'UADMIN01', at: NOW - 26 * HOUR, outcome: 'success', durationMs: 93_000 },
    limits: { memoryBytes: 256 * 1024 ** 2, cpus: 0.5, pids: 256, readOnly: false },
    policy: {
      idleTimeoutMs: 2 * HOUR,
      idleWarningMs: 15 * 60_000,
      bytesFloor: 16_384,
      maxPerUser: 3,
      own: [],
    },
  },
  {
    name: 'finance',
    description: 'Finance models & <reports>',
    image: 'spreadserve/finance:1.0',
    strategy: 'dockerfile',
    platform: 'linux',
    built: false,
    lastBuild: {
      by: 'UADMIN01',
      at: NOW - 2 * HOUR,
      outcome: 'failed: installer exited 1223',
      durationMs: 41_000,
    },
    limits: { memoryBytes: 512 * 1024 ** 2, cpus: 1, pids: 256, readOnly: true, user: '1000:1000' },
    // A template with its own reclaim policy: each of its settings says so.
    policy: {
      idleTimeoutMs: 30 * 60_000,
      idleWarningMs: 10 * 60_000,
      bytesFloor: 65_536,
      maxLifetimeMs: 8 * HOUR,
      maxPerUser: 1,
      own: ['idleTimeout', 'idleWarning', 'bytesFloor', 'maxLifetime', 'maxPerUser'],
    },
  },
  {
    name: 'spreadserve-windows',
    description: 'SpreadServe 0.3.1 in a Windows container',
    image: 'spreadserve/windows:0.3.1',
    strategy: 'commit',
    platform: 'windows',
    built: false,
    limits: { memoryBytes: 2 * 1024 ** 3, cpus: 1, readOnly: false, isolation: 'process' },
    policy: {
      idleTimeoutMs: 4 * HOUR,
      idleWarningMs: 15 * 60_000,
      bytesFloor: 16_384,
      maxLifetimeMs: 24 * HOUR,
      maxPerUser: 0,
      own: ['idleTimeout'],
    },
  },
];

const logLine = (k: number) =>
  `2026-01-01T11:${String(k % 60).padStart(2, '0')}:00Z \u001b[33mINFO\u001b[0m dbaseweb: served /sheet/${k} to 10.0.0.${k % 250} in ${k % 90}ms <ok> & done`;

// Reclaim: a pass that reclaimed, warned, was kept at the last moment and failed; 60 of each in the big one.
function reclaimAction(n: number, over: Partial<ReclaimAction> = {}): ReclaimAction {
  const i = instance(n);
  const reason = over.reason ?? (n % 4 === 0 ? 'ttl' : 'idle');
  return {
    kind: 'reclaim',
    instance: i.name,
    owner: n % 5 === 0 ? 'cli:bob' : i.owner,
    template: i.template,
    port: i.port,
    url: i.url,
    reason,
    evidence: {
      reason,
      lastActivityAt: NOW - 2 * HOUR - n * MIN,
      txSinceActivity: 1_277 * (n % 3),
      rxSinceActivity: 40_960 + n,
      floorBytes: 16_384,
      createdAt: NOW - 5 * HOUR,
      expiresAt: reason === 'ttl' ? NOW - 20 * MIN : undefined,
      text: `evidence ${n} <with> & markup`,
    },
    warnedAt: NOW - 16 * MIN,
    outcome: 'done',
    ...over,
    // The callers override kind, warnedAt and deadline together: one member of the union.
  } as ReclaimAction;
}

function reclaimReport(over: Partial<ReclaimReport> = {}): ReclaimReport {
  return {
    status: 'done',
    dryRun: false,
    trigger: 'schedule',
    startedAt: NOW,
    durationMs: 1_840,
    baselineOnly: false,
    checked: 305,
    baselined: ['demo-9'],
    active: ['demo-11'],
    withdrawn: [],
    actions: [
      reclaimAction(1),
      reclaimAction(4),
      reclaimAction(2, { kind: 'warn', warnedAt: NOW, deadline: NOW + 15 * MIN }),
      reclaimAction(5, {
        kind: 'warn',
        warnedAt: NOW,
        deadline: NOW + 15 * MIN,
        notified: { delivered: false, detail: 'owner cli:bob is not a Slack user: no DM' },
      }),
      reclaimAction(3, { outcome: 'withdrawn' }),
      reclaimAction(6, {
        outcome: 'failed',
        error: 'Docker is not reachable at unix:///var/run/docker.sock',
      }),
    ],
    cleaned: { closed: ['demo-20'], adopted: ['stray'], exited: ['demo-21'] },
    failures: [
      { instance: 'demo-6', error: 'could not stop it: Docker is not reachable' },
      { instance: 'demo-7', error: 'stats: There is no container spreadserve-demo-7 on the Docker host.' },
    ],
    summary:
      'Checked 305 instances in 1.8s: reclaimed 2 (demo-1, demo-4), warned 2 (demo-2, demo-5), 2 failures.',
    ...over,
  };
}

const bigReclaim = reclaimReport({
  actions: Array.from({ length: 120 }, (_, k) =>
    reclaimAction(k + 1, k % 2 ? { kind: 'warn', warnedAt: NOW, deadline: NOW + 15 * MIN } : {}),
  ),
  failures: Array.from({ length: 30 }, (_, k) => ({
    instance: `demo-${k}`,
    error: `failure ${k} ${'x'.repeat(500)}`,
  })),
  summary:
    'Checked 1000 instances in 17s: reclaimed 60 (demo-1, demo-3, demo-5, demo-7, demo-9 +55 more), warned 60.',
});

const warning: ReclaimWarning = {
  instance: 'demo-2',
  owner: 'UALICE01',
  template: 'demo',
  port: 8082,
  url: 'http://spreadserve.example:8082',
  reason: 'idle',
  warnedAt: NOW,
  deadline: NOW + 15 * MIN,
  evidence: reclaimAction(2).evidence,
};

const fixtures: Record<string, Reply> = {
  help: {
    kind: 'help',
    ok: true,
    visibility: 'ephemeral',
    summary: 'SpreadServe commands: type `/spreadserve help <command>` for one.',
    commands: [
      {
        name: 'help',
        usage: '/spreadserve help [command]',
        summary: 'Usage of every command, or one',
        who: 'anyone',
      },
      {
        name: 'launch',
        usage: '/spreadserve launch [template] [--name NAME] [--ttl DURATION]',
        summary: 'Start an instance',
        who: 'user',
      },
      {
        name: 'list',
        usage: '/spreadserve list [mine|all]',
        summary: 'Instances and their URLs',
        who: 'anyone',
      },
      {
        name: 'stop',
        usage: '/spreadserve stop <name>',
        summary: 'Stop and remove an instance',
        who: 'owner or admin',
      },
      {
        name: 'build',
        usage: '/spreadserve build <template> [--no-cache]',
        summary: "Build a template's image",
        who: 'admin',
      },
      {
        name: 'status',
        usage: '/spreadserve status',
        summary: 'Engine, instances, ports, reclaim',
        who: 'anyone',
      },
    ],
  },
  launch: {
    kind: 'instance',
    ok: true,
    visibility: 'ephemeral',
    summary: 'Launched demo-1 from demo: http://spreadserve.example:8081',
    instance: instance(1, { expiresAt: NOW + 4 * HOUR }),
  },
  'extend-with-warning': {
    kind: 'instance',
    ok: true,
    visibility: 'ephemeral',
    summary: 'Extended demo-2 by 2h',
    instance: instance(2, { warning: { reason: 'idle', deadline: NOW + 12 * MIN } }),
  },
  'list-few': {
    kind: 'instances',
    ok: true,
    visibility: 'ephemeral',
    summary: '4 instances',
    scope: 'all',
    now: NOW,
    instances: [
      instance(1),
      instance(2, { state: 'starting' }),
      instance(3, { state: 'exited', warning: { reason: 'ttl', deadline: NOW + 5 * MIN } }),
      instance(4, { state: 'missing', expiresAt: NOW + 30 * MIN }),
    ],
  },
  'list-empty': {
    kind: 'instances',
    ok: true,
    visibility: 'ephemeral',
    summary: 'You have no instances. Launch one with `/spreadserve launch`.',
    scope: 'mine',
    now: NOW,
    instances: [],
  },
  'list-120': {
    kind: 'instances',
    ok: true,
    visibility: 'ephemeral',
    summary: '120 instances',
    scope: 'all',
    now: NOW,
    instances: Array.from({ length: 120 }, (_, k) => instance(k + 1)),
  },
  templates: {
    kind: 'templates',
    ok: true,
    visibility: 'ephemeral',
    summary: '3 templates, 1 built',
    templates,
  },
  status: {
    kind: 'status',
    ok: true,
    visibility: 'in_channel',
    summary: 'SpreadServe status',
    status,
    now: NOW,
  },
  'status-degraded': {
    kind: 'status',
    ok: true,
    visibility: 'in_channel',
    summary: 'SpreadServe status',
    status: degradedStatus,
    now: NOW,
  },
  build: {
    kind: 'build',
    ok: true,
    visibility: 'ephemeral',
    summary: 'Built demo as spreadserve/demo:0.3.1 in 1m33s',
    build: {
      template: 'demo',
      tag: 'spreadserve/demo:0.3.1',
      imageId: 'sha256:4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b',
      sizeBytes: 245_300_000,
      durationMs: 93_000,
      strategy: 'commit',
    },
  },
  'error-usage': {
    kind: 'message',
    ok: false,
    visibility: 'ephemeral',
    errorKind: 'usage',
    summary: 'Unknown command "lanch": did you mean `/spreadserve launch`?',
  },
  'error-internal': {
    kind: 'message',
    ok: false,
    visibility: 'ephemeral',
    errorKind: 'internal',
    summary: 'Something went wrong (ref a1b2c3)',
  },
  'build-failed-200-line-log': {
    kind: 'message',
    ok: false,
    visibility: 'ephemeral',
    errorKind: 'build-failed',
    summary: 'Building demo failed at step "install": the installer exited with code 1223',
    details: Array.from({ length: 200 }, (_, k) => logLine(k + 1)),
  },
  'summary-5000-chars': {
    kind: 'message',
    ok: true,
    visibility: 'ephemeral',
    summary: `Stopped ${'x'.repeat(4990)} <done>`,
    details: ['```nested fence```', 'é'.repeat(5000)],
  },
  'reclaim-pass': {
    kind: 'reclaim',
    ok: true,
    visibility: 'ephemeral',
    summary: reclaimReport().summary,
    report: reclaimReport({ trigger: 'command', by: 'UADMIN01' }),
  },
  'reclaim-dry-run-120': {
    kind: 'reclaim',
    ok: true,
    visibility: 'ephemeral',
    summary: bigReclaim.summary,
    report: {
      ...bigReclaim,
      dryRun: true,
      actions: bigReclaim.actions.map((a) => ({ ...a, outcome: 'dry-run' })),
    },
  },
  'history-50-of-312': {
    kind: 'history',
    ok: true,
    visibility: 'ephemeral',
    summary: 'The newest 50 of 312 audit entries:',
    now: NOW,
    total: 312,
    entries: Array.from({ length: 50 }, (_, k) => ({
      at: NOW - k * 7 * MIN,
      actor: k % 3 === 0 ? 'schedule' : k % 3 === 1 ? 'UALICE01' : 'cli:bob',
      action: ['launch', 'warn', 'reclaim', 'extend', 'stop', 'build'][k % 6]!,
      instance: k % 6 === 5 ? undefined : `demo-${k}`,
      template: 'demo',
      reason: k % 2 ? `no use since 2026-01-01 09:00:00 UTC <${k}> & ${'why '.repeat(k * 3)}` : undefined,
    })),
  },
};

const homeArgs = {
  userId: 'UALICE01',
  instances: [
    instance(1),
    instance(2, { warning: { reason: 'idle', deadline: NOW + 12 * MIN } }),
    instance(3),
  ],
  status,
  now: NOW,
};

// ---------------------------------------------------------------------------------------------
// Golden files

function golden(name: string, actual: unknown): void {
  const file = path.join(GOLDEN_DIR, `${name}.json`);
  const json = `${JSON.stringify(actual, null, 2)}\n`;
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, json);
    return;
  }
  if (!existsSync(file)) {
    throw new Error(
      `missing golden file ${file}: run UPDATE_GOLDEN=1 npx vitest run test/bot/render.test.ts`,
    );
  }
  expect(JSON.parse(json), `${name} differs from ${file} (UPDATE_GOLDEN=1 to accept)`).toEqual(
    JSON.parse(readFileSync(file, 'utf8')),
  );
}

describe('renderReply golden files', () => {
  for (const [name, reply] of Object.entries(fixtures)) {
    it(`renders ${name} as recorded`, () => golden(name, renderReply(reply)));
  }
  it('renders the App Home view as recorded', () => golden('home', renderHomeView(homeArgs)));
  it('renders the reclaim warning DM as recorded', () =>
    golden('reclaim-warning-dm', renderWarningDM(warning)));
  it('renders the ops summary as recorded', () =>
    golden('reclaim-ops-summary', renderOpsSummary(reclaimReport())));
});

// ---------------------------------------------------------------------------------------------
// Slack's limits, over every fixture

describe("rendered messages stay within Slack's limits", () => {
  for (const [name, reply] of Object.entries(fixtures)) {
    it(`${name}: limits, and the summary comes first`, () => {
      const { text, blocks } = renderReply(reply);
      expect(checkLimits(blocks, LIMITS.messageBlocks)).toEqual([]);
      expect(text.length).toBeLessThanOrEqual(LIMITS.messageText);
      const first = blocks[0];
      expect(first?.type).toBe('section');
      const head = textOf((first as { text?: unknown }).text);
      expect(head).toMatch(/^(✅|⚠️|❌) /);
      expect(head).toContain(reply.summary.slice(0, 60).replace(/</g, '&lt;').replace(/>/g, '&gt;'));
      expect(text.startsWith(head.slice(0, 100))).toBe(true);
    });
  }
  it('the App Home view: a home view within 100 blocks', () => {
    const view = renderHomeView(homeArgs);
    expect(view.type).toBe('home');
    expect(checkLimits(view.blocks as KnownBlock[], LIMITS.viewBlocks)).toEqual([]);
  });
  it('the reclaim warning DM and the ops summaries fit', () => {
    for (const w of [warning, { ...warning, reason: 'ttl' as const, instance: 'x'.repeat(40) }]) {
      expect(checkLimits(renderWarningDM(w).blocks, LIMITS.messageBlocks)).toEqual([]);
    }
    for (const r of [reclaimReport(), bigReclaim, { ...bigReclaim, dryRun: true }]) {
      const { text, blocks } = renderOpsSummary(r);
      expect(checkLimits(blocks, LIMITS.messageBlocks)).toEqual([]);
      expect(text.length).toBeLessThanOrEqual(LIMITS.messageText);
    }
  });
  it('the App Home view with 80 instances of one user still fits', () => {
    const many = Array.from({ length: 80 }, (_, k) => instance(k + 1, { owner: 'UALICE01' }));
    const view = renderHomeView({ ...homeArgs, instances: many });
    expect(checkLimits(view.blocks as KnownBlock[], LIMITS.viewBlocks)).toEqual([]);
    expect(JSON.stringify(view.blocks)).toMatch(/…and \d+ more instances/);
  });
});

describe('what the renderings say', () => {
  const all = (reply: Reply) => JSON.stringify(renderReply(reply).blocks);

  it('prefixes ✅ on success, ⚠️ on a refusal, ❌ on a failure', () => {
    const icon = (name: string) => renderReply(fixtures[name] as Reply).text.slice(0, 2);
    expect(icon('launch')).toMatch(/^✅/);
    expect(icon('error-usage')).toMatch(/^⚠️/);
    expect(icon('error-internal')).toMatch(/^❌/);
    expect(icon('build-failed-200-line-log')).toMatch(/^❌/);
    expect(icon('status-degraded')).toMatch(/^⚠️/);
  });

  it('gives a launched instance its URL as a link, its owner, and Stop (confirmed) / Extend buttons', () => {
    const { blocks } = renderReply(fixtures.launch as Reply);
    const s = JSON.stringify(blocks);
    expect(s).toContain('<http://spreadserve.example:8081|http://spreadserve.example:8081>');
    expect(s).toContain('<@UALICE01>');
    const actions = blocks.find((b) => b.type === 'actions') as { elements: Json[] } | undefined;
    const [stop, extend] = actions?.elements ?? [];
    expect(stop).toMatchObject({ action_id: buttonIds.stop, value: 'demo-1', style: 'danger' });
    expect(stop?.confirm).toMatchObject({ title: { text: 'Stop demo-1?' }, confirm: { text: 'Stop it' } });
    expect(extend).toMatchObject({ action_id: buttonIds.extend, value: 'demo-1' });
  });

  it('lists 120 instances as a table and says how many were left out', () => {
    const { blocks } = renderReply(fixtures['list-120'] as Reply);
    const s = JSON.stringify(blocks);
    expect(blocks.length).toBeLessThanOrEqual(50);
    expect(s).toContain('*demo-1*');
    expect(s).toContain('*demo-100*');
    expect(s).not.toContain('*demo-101*');
    expect(s).toContain('…and 20 more instances');
  });

  it('shows the tail of a 200-line log in code blocks and counts the lines left out', () => {
    const { blocks } = renderReply(fixtures['build-failed-200-line-log'] as Reply);
    const s = JSON.stringify(blocks);
    expect(s).toContain('/sheet/200 ');
    expect(s).not.toContain('\\u001b');
    const note = /…and (\d+) more lines above/.exec(s);
    expect(note).not.toBeNull();
    const shown = (s.match(/dbaseweb: served/g) ?? []).length;
    expect(shown + Number(note?.[1])).toBe(200);
    expect(s).toContain('```\\n2026');
  });

  it('cuts a 5000-character summary to one section and says how much was cut', () => {
    const { text, blocks } = renderReply(fixtures['summary-5000-chars'] as Reply);
    expect(textOf((blocks[0] as { text?: unknown }).text)).toMatch(/… \(\d+ more characters\)$/);
    expect(text).toMatch(/… \(\d+ more characters\)$/);
  });

  it('draws the port pool as a bar', () => {
    expect(poolBar(1000, 690)).toBe('`▓▓▓▓▓▓░░░░░░░░░░░░░░` 31% used (310/1000)');
    expect(poolBar(1000, 999)).toBe('`▓░░░░░░░░░░░░░░░░░░░` &lt;1% used (1/1000)');
    expect(poolBar(1000, 0)).toBe('`▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓` 100% used (1000/1000)');
    expect(poolBar(0, 0)).toBe('no ports configured');
  });

  it('status lists set-aside ports and at most 5 failures, newest first', () => {
    const s = all(fixtures['status-degraded'] as Reply);
    expect(s).toContain('9000, 9001');
    expect(s).toContain('…and 10 more ports');
    expect(s).toContain('…and 4 more failures');
    expect(s.indexOf('failure number 0')).toBeLessThan(s.indexOf('failure number 4'));
    expect(s).not.toContain('failure number 5');
  });

  it('escapes &, < and > in text users or engines wrote', () => {
    const s = all(fixtures.templates as Reply);
    expect(s).toContain('Finance models &amp; &lt;reports&gt;');
  });

  it("shows each template's effective reclaim policy and where each setting came from", () => {
    const s = all(fixtures.templates as Reply);
    // the default template: every setting the global one
    expect(s).toContain(
      'Reclaim: idle timeout 2h (default) · warning 15m (default) · floor 16 KiB (default) · ' +
        'max lifetime none (default) · 3 per user, all templates (default)',
    );
    // a template with its own: each says so
    expect(s).toContain(
      'Reclaim: idle timeout 30m (template) · warning 10m (template) · floor 64 KiB (template) · ' +
        'max lifetime 8h (template) · 1 per user (template)',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The stand-in and the signer

describe('Slack stand-in', () => {
  let slack: SlackStandIn;
  const client = () =>
    new webApi.WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });

  beforeAll(async () => {
    slack = await startSlackStandIn({ groups: { SADMINS: ['UADMIN01'] } });
  });
  afterAll(async () => {
    await slack?.close();
  });
  beforeEach(() => slack.reset());

  it('records chat.postMessage from the Web API client with its blocks parsed', async () => {
    const { text, blocks } = renderReply(fixtures.launch as Reply);
    const res = await client().chat.postMessage({ channel: 'CTEST', text, blocks });
    expect(res.ok).toBe(true);
    expect(res.ts).toMatch(/^\d+\.\d{6}$/);
    const [call] = slack.calls('chat.postMessage');
    expect(call?.token).toBe('xoxb-test');
    expect(call?.body.channel).toBe('CTEST');
    expect(call?.body.blocks).toEqual(blocks);
    expect(slack.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
  });

  it('parses views.publish views, answers the methods the bot uses, and {ok:true} to the rest', async () => {
    const web = client();
    const view = renderHomeView(homeArgs);
    await web.views.publish({ user_id: 'UALICE01', view });
    expect(slack.calls('views.publish')[0]?.body.view).toEqual(view);
    expect((await web.auth.test()).user_id).toBe('UBOT');
    expect((await web.conversations.open({ users: 'UALICE01' })).channel?.id).toBe('DUALICE01');
    expect((await web.users.info({ user: 'UALICE01' })).user?.id).toBe('UALICE01');
    expect((await web.chat.postEphemeral({ channel: 'C1', user: 'U1', text: 'x' })).message_ts).toBeTruthy();
    expect((await web.chat.update({ channel: 'C1', ts: '1.000001', text: 'y' })).ok).toBe(true);
    expect((await web.apiCall('team.info')).ok).toBe(true);
    expect(slack.calls().map((c) => c.method)).toEqual([
      'views.publish',
      'auth.test',
      'conversations.open',
      'users.info',
      'chat.postEphemeral',
      'chat.update',
      'team.info',
    ]);
  });

  it('serves user-group members, changeable while running', async () => {
    const web = client();
    expect((await web.usergroups.users.list({ usergroup: 'SADMINS' })).users).toEqual(['UADMIN01']);
    slack.setGroup('SADMINS', ['UADMIN01', 'UBOB0001']);
    expect((await web.usergroups.users.list({ usergroup: 'SADMINS' })).users).toEqual([
      'UADMIN01',
      'UBOB0001',
    ]);
    await expect(web.usergroups.users.list({ usergroup: 'SNOPE' })).rejects.toMatchObject({
      data: { error: 'no_such_subteam' },
    });
  });

  it('fails a method on demand, as Slack does, so fallbacks can be tested', async () => {
    slack.failMethod('chat.postMessage', 'channel_not_found', { times: 1 });
    const web = client();
    await expect(web.chat.postMessage({ channel: 'CGONE', text: 'x' })).rejects.toMatchObject({
      code: 'slack_webapi_platform_error',
      data: { ok: false, error: 'channel_not_found' },
    });
    expect((await web.chat.postMessage({ channel: 'CGONE', text: 'x' })).ok).toBe(true);
    expect(slack.calls('chat.postMessage')).toHaveLength(2);
  });

  it('records response_url posts per id (JSON or form) and can refuse them', async () => {
    const url = slack.responseUrl('cmd-1');
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hi', blocks: [{ type: 'divider' }] }),
    });
    await fetch(url, { method: 'POST', body: new URLSearchParams({ text: 'form', blocks: '[]' }) });
    expect(slack.responses('cmd-1')).toEqual([
      { text: 'hi', blocks: [{ type: 'divider' }] },
      { text: 'form', blocks: [] },
    ]);
    expect(slack.responses('other')).toEqual([]);
    slack.failResponseUrl('cmd-2', 404);
    expect((await fetch(slack.responseUrl('cmd-2'), { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('waitFor polls until true and gives up in bounded time', async () => {
    setTimeout(() => void fetch(slack.responseUrl('late'), { method: 'POST', body: 'text=done' }), 50);
    const [body] = await slack.waitFor((s) => s.responses('late').length > 0 && s.responses('late'), {
      timeoutMs: 2000,
    });
    expect(body).toEqual({ text: 'done' });
    await expect(slack.waitFor(() => false, { timeoutMs: 100, message: 'never' })).rejects.toThrow(
      /never within 100 ms/,
    );
  });

  it('postToBot posts signed requests and times the answer', async () => {
    // The stand-in serves 404 on /slack/events: enough to see the request go out and come back.
    const req = slashCommand({ text: 'help', userId: 'U1', responseUrl: slack.responseUrl('x') });
    const answer = await postToBot(slack.baseUrl, req);
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({ ok: false, error: 'unknown_method' });
    expect(answer.ms).toBeGreaterThan(0);
  });
});

describe('request signer', () => {
  // Slack's documented example (api.slack.com, "Verifying requests from Slack").
  const docSecret = '8f742231b10e8888abcd99yyyzzz85a5';
  const docBody =
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&' +
    'channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&' +
    'response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&' +
    'trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';

  it("matches Slack's documented vector and an independent node:crypto HMAC", () => {
    expect(signature(docSecret, 1531420618, docBody)).toBe(
      'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    );
    const independent = `v0=${createHmac('sha256', 'k').update('v0:42:a=b').digest('hex')}`;
    expect(signHeaders('a=b', { secret: 'k', timestamp: 42 })).toEqual({
      'X-Slack-Request-Timestamp': '42',
      'X-Slack-Signature': independent,
    });
  });

  const boltAccepts = (
    req: { body: string; headers: Record<string, string> },
    secret = TEST_SIGNING_SECRET,
  ) =>
    isValidSlackRequest({
      signingSecret: secret,
      body: req.body,
      headers: {
        'x-slack-signature': req.headers['X-Slack-Signature'] ?? '',
        'x-slack-request-timestamp': Number(req.headers['X-Slack-Request-Timestamp']),
      },
    });

  it("signs slash commands, button clicks and events so bolt's verifier accepts them", () => {
    const slash = slashCommand({ text: 'launch demo', userId: 'U1', responseUrl: 'http://x/respond/1' });
    expect(boltAccepts(slash)).toBe(true);
    expect(new URLSearchParams(slash.body).get('text')).toBe('launch demo');
    expect(new URLSearchParams(slash.body).get('command')).toBe('/spreadserve');
    expect(slash.headers['Content-Type']).toBe('application/x-www-form-urlencoded');

    const click = blockAction({
      userId: 'U1',
      actionId: buttonIds.stop,
      value: 'demo-1',
      responseUrl: 'http://x/r',
    });
    expect(boltAccepts(click)).toBe(true);
    const payload = JSON.parse(new URLSearchParams(click.body).get('payload') ?? '{}');
    expect(payload).toMatchObject({
      type: 'block_actions',
      user: { id: 'U1' },
      response_url: 'http://x/r',
      actions: [{ action_id: 'stop', value: 'demo-1', type: 'button' }],
      container: { type: 'message', channel_id: 'CTEST' },
    });
    expect(payload.trigger_id).toBeTruthy();

    const home = event({ type: 'app_home_opened', user: 'U1' });
    expect(boltAccepts(home)).toBe(true);
    expect(JSON.parse(home.body)).toMatchObject({
      type: 'event_callback',
      event: { type: 'app_home_opened', user: 'U1', tab: 'home' },
    });
  });

  it('gives every request its own trigger id', () => {
    const a = slashCommand({ text: 'x', userId: 'U1', responseUrl: 'u' });
    const b = slashCommand({ text: 'x', userId: 'U1', responseUrl: 'u' });
    expect(a.payload.trigger_id).not.toBe(b.payload.trigger_id);
  });

  it('forges a bad signature or a stale timestamp on request', () => {
    const args = { text: 'help', userId: 'U1', responseUrl: 'u' };
    expect(boltAccepts(slashCommand(args, { badSignature: true }))).toBe(false);
    expect(boltAccepts(slashCommand(args, { staleBySeconds: 6 * 60 }))).toBe(false);
    expect(boltAccepts(slashCommand(args, { staleBySeconds: 60 }))).toBe(true);
    expect(boltAccepts(slashCommand(args, { secret: 'other' }), 'other')).toBe(true);
    expect(slashCommand(args, { unsigned: true }).headers['X-Slack-Signature']).toBeUndefined();
  });
});
