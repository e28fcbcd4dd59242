// Slack's side of the wire, for tests: a Web API on 127.0.0.1 (ephemeral port) that records
// every call and answers like Slack, and response_url endpoints that record every body.
// Point the bot at it with SLACK_API_URL = standIn.apiUrl.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Body = Record<string, unknown>;

export interface RecordedCall {
  method: string;
  /** Parsed request: form or JSON; JSON-string fields (blocks, view, ...) parsed too. */
  body: Body;
  /** The token sent, from `Authorization: Bearer` or the body. */
  token: string | undefined;
  at: number;
}

export interface RecordedResponse {
  id: string;
  body: Body;
  at: number;
}

export interface SlackUser {
  id: string;
  name?: string;
  real_name?: string;
  tz?: string;
  /** Seconds ahead of UTC, as Slack sends it beside tz. */
  tz_offset?: number;
  is_admin?: boolean;
  is_bot?: boolean;
  deleted?: boolean;
}

export interface StandInOptions {
  /** User-group id (`S...`) -> member user ids; mutable later with `setGroup`. */
  groups?: Record<string, string[]>;
  /** Extra fields for `users.info` by user id. */
  users?: Record<string, Partial<SlackUser>>;
  /** Answer `not_authed` when a call carries no token (as Slack does). Default true. */
  requireToken?: boolean;
  /** What `apps.connections.open` hands out (Socket Mode): a `ws://127.0.0.1:...` URL. */
  socketUrl?: string;
}

export interface FailOptions {
  /** Fail only the next `times` calls, then answer normally again. Default: until cleared. */
  times?: number;
  /** HTTP status: 200 (Slack's way: `{ok:false, error}`), 429 (rate limited), 5xx. Default 200. */
  status?: number;
  /** Seconds, sent as `Retry-After` with a 429. Default 1. */
  retryAfter?: number;
}

interface Failure {
  error: string;
  status: number;
  retryAfter: number;
  remaining: number;
}

/** Fields the Web API client sends as JSON strings inside a form body. */
const JSON_FIELDS = ['blocks', 'attachments', 'view', 'metadata', 'unfurls', 'user_auth_blocks'];

export class SlackStandIn {
  readonly groups: Record<string, string[]>;
  private readonly users: Record<string, Partial<SlackUser>>;
  private readonly requireToken: boolean;
  private readonly recorded: RecordedCall[] = [];
  private readonly responded: RecordedResponse[] = [];
  private readonly failures = new Map<string, Failure>();
  private readonly responseFailures = new Map<string, number>();
  private readonly delays = new Map<string, number>();
  /** What `apps.connections.open` answers with; settable before the bot connects. */
  socketUrl: string | undefined;
  private tsCounter = 0;
  private viewCounter = 0;

  private constructor(
    private readonly server: http.Server,
    opts: StandInOptions,
  ) {
    this.groups = structuredClone(opts.groups ?? {});
    this.users = opts.users ?? {};
    this.requireToken = opts.requireToken ?? true;
    this.socketUrl = opts.socketUrl;
    server.on('request', (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
  }

  static async start(opts: StandInOptions = {}): Promise<SlackStandIn> {
    const server = http.createServer();
    const standIn = new SlackStandIn(server, opts);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return standIn;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The Web API base; ends with `/api/` as `@slack/web-api` expects. */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  /** A response_url whose posts are recorded under `id`. */
  responseUrl(id: string): string {
    return `${this.baseUrl}/respond/${encodeURIComponent(id)}`;
  }

  /** Every Web API call so far, in order; only those of `method` when given. */
  calls(method?: string): RecordedCall[] {
    return method === undefined ? [...this.recorded] : this.recorded.filter((c) => c.method === method);
  }

  /** Bodies posted to `responseUrl(id)`, in order. */
  responses(id: string): Body[] {
    return this.responded.filter((r) => r.id === id).map((r) => r.body);
  }

  /** Every response_url post, with its id and time. */
  allResponses(): RecordedResponse[] {
    return [...this.responded];
  }

  /** Replace a user group's members (takes effect on the next call). */
  setGroup(groupId: string, members: string[]): void {
    this.groups[groupId] = [...members];
  }

  /** Make `method` answer like Slack does on failure, e.g. `failMethod('chat.postMessage', 'channel_not_found')`. */
  failMethod(method: string, error = 'internal_error', opts: FailOptions = {}): void {
    this.failures.set(method, {
      error,
      status: opts.status ?? 200,
      retryAfter: opts.retryAfter ?? 1,
      remaining: opts.times ?? Number.POSITIVE_INFINITY,
    });
  }

  /** Make posts to `responseUrl(id)` (or every response_url, with `'*'`) answer `status`. */
  failResponseUrl(id: string, status = 404): void {
    this.responseFailures.set(id, status);
  }

  /** Make `method` (every method: `'*'`; response_url posts: `'respond'`) answer only after `ms`: a slow Slack. 0 stops it. */
  delayMethod(method: string, ms: number): void {
    if (ms > 0) this.delays.set(method, ms);
    else this.delays.delete(method);
  }

  /** Stop failing `method`, or every method and response_url when none is given. */
  clearFailures(method?: string): void {
    if (method === undefined) {
      this.failures.clear();
      this.responseFailures.clear();
    } else {
      this.failures.delete(method);
    }
  }

  /**
   * Polls `predicate` (every `intervalMs`, default 20) until it returns something truthy, and
   * returns that; throws after `timeoutMs` (default 5000) with `message` and what was recorded.
   */
  async waitFor<T>(
    predicate: (standIn: SlackStandIn) => T | undefined | null | false,
    opts: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
  ): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const intervalMs = opts.intervalMs ?? 20;
    const until = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate(this);
      if (value) return value;
      if (Date.now() >= until) {
        const seen = this.recorded.map((c) => c.method).join(', ') || 'no calls';
        const ids = [...new Set(this.responded.map((r) => r.id))].join(', ') || 'none';
        throw new Error(
          `${opts.message ?? 'condition not met'} within ${timeoutMs} ms (calls: ${seen}; responses to: ${ids})`,
        );
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** Forget recorded calls, responses and failures; groups and users stay. */
  reset(): void {
    this.recorded.length = 0;
    this.responded.length = 0;
    this.delays.clear();
    this.clearFailures();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // -------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = parseBody(raw, req.headers['content-type'] ?? '');
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(payload));
    };

    if (url.pathname.startsWith('/respond/')) {
      const id = decodeURIComponent(url.pathname.slice('/respond/'.length));
      this.responded.push({ id, body, at: Date.now() });
      const slow = this.delays.get('respond');
      if (slow !== undefined) await new Promise((r) => setTimeout(r, slow).unref());
      const failStatus = this.responseFailures.get(id) ?? this.responseFailures.get('*');
      if (failStatus !== undefined) return send(failStatus, { ok: false, error: 'stand_in_failure' });
      return send(200, { ok: true });
    }

    const match = /^\/api\/([\w.]+)$/.exec(url.pathname);
    if (!match?.[1] || req.method !== 'POST') return send(404, { ok: false, error: 'unknown_method' });
    const method = match[1];
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? (typeof body.token === 'string' ? body.token : undefined);
    this.recorded.push({ method, body, token, at: Date.now() });

    if (this.requireToken && !token) return send(200, { ok: false, error: 'not_authed' });
    const delay = this.delays.get(method) ?? this.delays.get('*');
    if (delay !== undefined) await new Promise((r) => setTimeout(r, delay).unref());
    const failure = this.failures.get(method);
    if (failure && failure.remaining > 0) {
      failure.remaining -= 1;
      if (failure.status === 429) {
        return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(failure.retryAfter) });
      }
      return send(failure.status, { ok: false, error: failure.error });
    }
    return send(200, this.answer(method, body));
  }

  private answer(method: string, body: Body): Body {
    const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined ? '' : String(v));
    const ts = `${Math.floor(Date.now() / 1000)}.${String(++this.tsCounter).padStart(6, '0')}`;
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://acme.slack.com/',
          team: 'acme',
          user: 'spreadserve',
          team_id: 'T0ACME',
          user_id: 'UBOT',
          bot_id: 'BBOT',
          is_enterprise_install: false,
        };
      case 'chat.postMessage': {
        // A user id as channel posts in the DM with that user, as Slack does.
        const channel = dmChannel(str(body.channel));
        return {
          ok: true,
          channel,
          ts,
          message: {
            type: 'message',
            text: body.text,
            blocks: body.blocks,
            user: 'UBOT',
            bot_id: 'BBOT',
            ts,
          },
        };
      }
      case 'apps.connections.open':
        return this.socketUrl ? { ok: true, url: this.socketUrl } : { ok: false, error: 'invalid_auth' };
      case 'chat.update':
        return { ok: true, channel: body.channel, ts: body.ts, text: body.text };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: ts };
      case 'conversations.open': {
        const users = str(body.users).split(',').filter(Boolean);
        if (users.length === 0 && !body.channel) return { ok: false, error: 'users_list_not_supplied' };
        return { ok: true, channel: { id: body.channel ?? `D${users.join('').replace(/\W/g, '')}` } };
      }
      // views.open (a modal), views.update and views.publish answer with the view and an id, as Slack does.
      case 'views.open':
      case 'views.update':
      case 'views.publish': {
        const view = (typeof body.view === 'object' && body.view !== null ? body.view : {}) as Body;
        return { ok: true, view: { id: `V${++this.viewCounter}`, team_id: 'T0ACME', ...view } };
      }
      case 'usergroups.users.list': {
        const members = this.groups[str(body.usergroup)];
        return members ? { ok: true, users: [...members] } : { ok: false, error: 'no_such_subteam' };
      }
      case 'users.info': {
        const id = str(body.user);
        if (!id) return { ok: false, error: 'user_not_found' };
        return {
          ok: true,
          user: {
            id,
            name: id.toLowerCase(),
            real_name: id,
            tz: 'UTC',
            is_admin: false,
            is_bot: false,
            deleted: false,
            ...this.users[id],
          },
        };
      }
      default:
        return { ok: true };
    }
  }
}

/** Start a stand-in; `close()` it when done. */
export function startSlackStandIn(opts: StandInOptions = {}): Promise<SlackStandIn> {
  return SlackStandIn.start(opts);
}

function dmChannel(channel: string): string {
  return /^[UW][A-Z0-9]+$/.test(channel) ? `D${channel.slice(1)}` : channel;
}

/** Form or JSON, whichever the content type says; JSON-string form fields parsed. */
export function parseBody(raw: string, contentType: string): Body {
  let body: Body;
  try {
    if (contentType.includes('json')) {
      const parsed: unknown = raw ? JSON.parse(raw) : {};
      body = typeof parsed === 'object' && parsed !== null ? (parsed as Body) : { value: parsed };
    } else {
      body = Object.fromEntries(new URLSearchParams(raw));
    }
  } catch {
    return { raw };
  }
  for (const key of JSON_FIELDS) {
    const value = body[key];
    if (typeof value === 'string' && /^\s*[[{]/.test(value)) {
      try {
        body[key] = JSON.parse(value);
      } catch {
        // Left as the string it was: a test can see what was sent.
      }
    }
  }
  // A form-encoded interactivity payload (what Slack sends the bot) reads the same way.
  if (typeof body.payload === 'string' && /^\s*\{/.test(body.payload)) {
    try {
      body.payload = JSON.parse(body.payload);
    } catch {}
  }
  return body;
}
