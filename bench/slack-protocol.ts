// The request/answer protocol between bench/slack.ts (the main thread) and its "Slack" worker,
// bench/slack-client.ts: what a burst of slash commands and the background loop are asked to do,
// and what they report.

export type Kind = 'help' | 'list' | 'floor';

export interface BurstOptions {
  /** The bot's (or the floor's) base URL; requests go to `<url>/slack/events`. */
  url: string;
  kind: Kind;
  n: number;
  concurrency: number;
  /** One request's time limit; past it, it counts as a timeout. */
  timeoutMs: number;
  /** No new request is sent after this long. */
  budgetMs: number;
  /** Reuse the connections of this pool (keep-alive), one pool per target and level. */
  pool: string;
}

export interface BurstResult {
  /** Milliseconds from sending to the complete HTTP 200 answer, in the order they finished. */
  samples: number[];
  wallMs: number;
  /** Answers other than 200, timeouts, connection errors, ack bodies that were not the expected one. */
  failures: { status: number; timeouts: number; errors: number; wrongBody: number; firstProblem?: string };
  /** list only: response_url posts received for this burst's commands (the work after the ack). */
  responded?: number;
  /** Background cycles (launch + stop through the bot) in flight when the burst started and ended,
   * and launches and stops the bot completed while it ran. */
  background: { inFlightAtStart: number; inFlightAtEnd: number; launches: number; stops: number };
}

export interface BackgroundOptions {
  url: string;
  /** Launch-then-stop cycles kept in flight. */
  inFlight: number;
  /** Bounds: cycles started, and time from the start. */
  maxCycles: number;
  maxMs: number;
  /** One launch or stop, from the slash command to its response_url post. */
  stepTimeoutMs: number;
}

export interface BackgroundReport {
  cycles: number;
  launches: number;
  stops: number;
  /** Slash `launch` sent -> the response_url post with the URL, per successful launch. */
  launchMs: number[];
  /** Slash `stop` sent -> its response_url post, per successful stop. */
  stopMs: number[];
  failures: string[];
}

export type ClientRequest =
  | { op: 'start' }
  | { op: 'burst'; options: BurstOptions }
  | { op: 'closePool'; pool: string }
  | { op: 'backgroundStart'; options: BackgroundOptions }
  | { op: 'backgroundRunning' }
  | { op: 'backgroundStop'; waitMs: number }
  | { op: 'close' };

export type ClientAnswer =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string };
