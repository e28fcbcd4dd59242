// The background of the busy levels, in the "Slack" worker: users launching and stopping
// instances through the bot, a bounded number of launch-then-stop cycles in flight.
import http from 'node:http';
import { withTimeout } from '../lib/concurrency.ts';
import type { SlackStandIn } from '../test/support/slack-stand-in.ts';
import type { BackgroundOptions, BackgroundReport } from './slack-protocol.ts';
import { post, slashTo } from './slack-wire.ts';

const BG_USER = 'UBENCHBG';

/** Cycles in flight now, and launches and stops completed so far (read by the load generator). */
export const bg = { inFlight: 0, launches: 0, stops: 0 };

/** The steps of one cycle: the slash command, what its reply must say, where it is counted. */
const CYCLE = [
  {
    what: 'launch',
    command: (name: string) => `launch demo --name ${name}`,
    expect: 'is up at',
    count: 'launches',
    times: 'launchMs',
  },
  {
    what: 'stop',
    command: (name: string) => `stop ${name}`,
    expect: 'Stopped',
    count: 'stops',
    times: 'stopMs',
  },
] as const;

let background: { stop(): void; done: Promise<BackgroundReport> } | undefined;

async function waitForResponse(slack: SlackStandIn, id: string, timeoutMs: number): Promise<string> {
  const body = await slack.waitFor((s) => s.responses(id)[0], {
    timeoutMs,
    intervalMs: 10,
    message: `no response_url post for ${id}`,
  });
  return typeof body.text === 'string' ? body.text : JSON.stringify(body);
}

/** Starts the loop of launch-then-stop cycles through the bot at `o.url`. */
export function startBackground(slack: SlackStandIn, o: BackgroundOptions): void {
  if (background) throw new Error('the background loop is already running');
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.inFlight * 2 });
  const control = { stopping: false };
  const report: BackgroundReport = {
    cycles: 0,
    launches: 0,
    stops: 0,
    launchMs: [],
    stopMs: [],
    failures: [],
  };
  const t0 = Date.now();
  const fail = (what: string) => {
    if (report.failures.length < 20) report.failures.push(what);
  };
  /** Sends `text` as a slash command and waits for its response_url post; returns ms and text. */
  const step = async (text: string): Promise<{ ms: number; reply: string }> => {
    const { request, responseId } = slashTo(slack, text, BG_USER);
    const start = performance.now();
    const ack = await post(o.url, request, agent, o.stepTimeoutMs);
    if (ack.status !== 200) throw new Error(`${text}: ack HTTP ${ack.status}`);
    const reply = await waitForResponse(slack, responseId, o.stepTimeoutMs);
    return { ms: performance.now() - start, reply };
  };
  const slot = async () => {
    while (!control.stopping && report.cycles < o.maxCycles && Date.now() - t0 < o.maxMs) {
      const name = `bg-${String(report.cycles++).padStart(4, '0')}`;
      bg.inFlight++;
      try {
        // Launch, then stop; a reply other than the expected one ends the cycle.
        for (const s of CYCLE) {
          const done = await step(s.command(name));
          if (!done.reply.includes(s.expect)) {
            fail(`${s.what} ${name}: ${done.reply.slice(0, 160)}`);
            break;
          }
          bg[s.count]++;
          report[s.count]++;
          report[s.times].push(done.ms);
        }
      } catch (err) {
        fail(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        bg.inFlight--;
      }
    }
  };
  const done = Promise.all(Array.from({ length: o.inFlight }, slot)).then(() => {
    agent.destroy();
    return report;
  });
  background = {
    stop: () => {
      control.stopping = true;
    },
    done,
  };
}

/** Lets the cycles in flight end (no new ones), waiting up to waitMs; null when none ran. */
export async function stopBackground(waitMs: number): Promise<BackgroundReport | null> {
  const running = background;
  if (!running) return null;
  running.stop();
  try {
    return await withTimeout(running.done, waitMs, `the background loop did not finish within ${waitMs} ms`);
  } finally {
    background = undefined;
  }
}
