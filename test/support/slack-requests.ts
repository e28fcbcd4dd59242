// Requests as Slack sends them to the bot: slash commands, button clicks (block_actions), global
// shortcuts, modal submissions (view_submission) and Events API callbacks, signed exactly as Slack signs them:
//   X-Slack-Signature = 'v0=' + hex(HMAC-SHA256(secret, `v0:${timestamp}:${raw body}`))
// plus options to forge the signature or send a stale timestamp.
import { createHmac } from 'node:crypto';

export const TEST_SIGNING_SECRET = 'test-signing-secret';
export const TEST_TEAM_ID = 'T0TEST';
export const TEST_APP_ID = 'A0SPREAD';

export interface SignOptions {
  /** Signing secret; default TEST_SIGNING_SECRET. */
  secret?: string;
  /** Unix seconds to sign with; default now. */
  timestamp?: number;
  /** Sign as if sent this many seconds ago (bolt refuses more than 300). */
  staleBySeconds?: number;
  /** Sign with the wrong secret: a forged request. */
  badSignature?: boolean;
  /** Send no signature headers at all. */
  unsigned?: boolean;
}

export interface SignedRequest {
  /** The raw body, exactly as signed. */
  body: string;
  headers: Record<string, string>;
  /** What the body carries, for assertions (the form fields, the payload or the event). */
  payload: Record<string, unknown>;
}

let seq = 0;
const nextSeq = (): number => ++seq;

/** A trigger id, unique per request as Slack's are. */
export function newTriggerId(): string {
  return `${Date.now()}.${nextSeq()}.${Math.random().toString(16).slice(2, 10)}`;
}

/** The signature value Slack sends for `body` at `timestamp`. */
export function signature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** The two signature headers for `body`, honouring the forging options. */
export function signHeaders(body: string, opts: SignOptions = {}): Record<string, string> {
  if (opts.unsigned) return {};
  const now = Math.floor(Date.now() / 1000);
  const timestamp = opts.timestamp ?? now - (opts.staleBySeconds ?? 0);
  const secret = opts.badSignature
    ? `not-${opts.secret ?? TEST_SIGNING_SECRET}`
    : (opts.secret ?? TEST_SIGNING_SECRET);
  return {
    'X-Slack-Request-Timestamp': String(timestamp),
    'X-Slack-Signature': signature(secret, timestamp, body),
  };
}

function formRequest(
  fields: Record<string, string>,
  payload: Record<string, unknown>,
  sign: SignOptions,
): SignedRequest {
  const body = new URLSearchParams(fields).toString();
  return {
    body,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...signHeaders(body, sign) },
    payload,
  };
}

export interface SlashCommandArgs {
  text: string;
  userId: string;
  responseUrl: string;
  channelId?: string;
  triggerId?: string;
  command?: string;
  userName?: string;
  teamId?: string;
}

/** `/spreadserve <text>`, form-encoded as Slack posts it. */
export function slashCommand(args: SlashCommandArgs, sign: SignOptions = {}): SignedRequest {
  const channelId = args.channelId ?? 'CTEST';
  const fields = {
    token: 'legacy-verification-token',
    team_id: args.teamId ?? TEST_TEAM_ID,
    team_domain: 'test',
    channel_id: channelId,
    channel_name: channelId.startsWith('D') ? 'directmessage' : 'test',
    user_id: args.userId,
    user_name: args.userName ?? args.userId.toLowerCase(),
    command: args.command ?? '/spreadserve',
    text: args.text,
    api_app_id: TEST_APP_ID,
    is_enterprise_install: 'false',
    response_url: args.responseUrl,
    trigger_id: args.triggerId ?? newTriggerId(),
  };
  return formRequest(fields, fields, sign);
}

export interface BlockActionArgs {
  userId: string;
  actionId: string;
  value: string;
  /** Slack sends one for clicks in messages, none for clicks in App Home. */
  responseUrl?: string;
  channelId?: string;
  blockId?: string;
  triggerId?: string;
  /** Where the button was: an (ephemeral by default) message, or the App Home tab. */
  source?: 'message' | 'home';
  /** For a non-ephemeral message: its ts (Slack then includes the message). */
  messageTs?: string;
  ephemeral?: boolean;
  buttonText?: string;
}

/** A button click: `payload=<json>` with type `block_actions`. */
export function blockAction(args: BlockActionArgs, sign: SignOptions = {}): SignedRequest {
  const channelId = args.channelId ?? 'CTEST';
  const actionTs = `${Math.floor(Date.now() / 1000)}.${String(nextSeq()).padStart(6, '0')}`;
  const home = args.source === 'home';
  const ephemeral = args.ephemeral ?? args.messageTs === undefined;
  const messageTs = args.messageTs ?? actionTs;
  const payload: Record<string, unknown> = {
    type: 'block_actions',
    user: {
      id: args.userId,
      username: args.userId.toLowerCase(),
      name: args.userId.toLowerCase(),
      team_id: TEST_TEAM_ID,
    },
    api_app_id: TEST_APP_ID,
    token: 'legacy-verification-token',
    container: home
      ? { type: 'view', view_id: 'VHOME' }
      : { type: 'message', message_ts: messageTs, channel_id: channelId, is_ephemeral: ephemeral },
    trigger_id: args.triggerId ?? newTriggerId(),
    team: { id: TEST_TEAM_ID, domain: 'test' },
    enterprise: null,
    is_enterprise_install: false,
    actions: [
      {
        action_id: args.actionId,
        block_id: args.blockId ?? `instance:${args.value}`,
        text: { type: 'plain_text', text: args.buttonText ?? args.actionId, emoji: true },
        value: args.value,
        type: 'button',
        action_ts: actionTs,
      },
    ],
  };
  if (home) {
    payload.view = { id: 'VHOME', type: 'home', team_id: TEST_TEAM_ID, blocks: [], app_id: TEST_APP_ID };
  } else {
    payload.channel = { id: channelId, name: channelId.startsWith('D') ? 'directmessage' : 'test' };
    if (!ephemeral)
      payload.message = { type: 'message', ts: messageTs, user: 'UBOT', bot_id: 'BBOT', text: '' };
  }
  if (args.responseUrl !== undefined) payload.response_url = args.responseUrl;
  return formRequest({ payload: JSON.stringify(payload) }, payload, sign);
}

export interface ShortcutArgs {
  userId: string;
  callbackId: string;
  triggerId?: string;
}

/** A global shortcut (from the shortcuts menu or search): `payload=<json>` with type `shortcut`. */
export function globalShortcut(args: ShortcutArgs, sign: SignOptions = {}): SignedRequest {
  const payload = {
    type: 'shortcut',
    token: 'legacy-verification-token',
    action_ts: `${Math.floor(Date.now() / 1000)}.${String(nextSeq()).padStart(6, '0')}`,
    team: { id: TEST_TEAM_ID, domain: 'test' },
    user: { id: args.userId, username: args.userId.toLowerCase(), team_id: TEST_TEAM_ID },
    is_enterprise_install: false,
    enterprise: null,
    callback_id: args.callbackId,
    trigger_id: args.triggerId ?? newTriggerId(),
  };
  return formRequest({ payload: JSON.stringify(payload) }, payload, sign);
}

export interface ViewSubmissionArgs {
  userId: string;
  callbackId: string;
  /** view.state.values as Slack sends them: block_id -> action_id -> the input's state. */
  values: Record<string, Record<string, Record<string, unknown>>>;
  privateMetadata?: string;
  viewId?: string;
}

/** A modal submitted: `payload=<json>` with type `view_submission`. */
export function viewSubmission(args: ViewSubmissionArgs, sign: SignOptions = {}): SignedRequest {
  const payload = {
    type: 'view_submission',
    team: { id: TEST_TEAM_ID, domain: 'test' },
    user: {
      id: args.userId,
      username: args.userId.toLowerCase(),
      name: args.userId.toLowerCase(),
      team_id: TEST_TEAM_ID,
    },
    api_app_id: TEST_APP_ID,
    token: 'legacy-verification-token',
    trigger_id: newTriggerId(),
    view: {
      id: args.viewId ?? `V${nextSeq()}`,
      team_id: TEST_TEAM_ID,
      type: 'modal',
      blocks: [],
      private_metadata: args.privateMetadata ?? '',
      callback_id: args.callbackId,
      state: { values: args.values },
      hash: `${Date.now()}.hash`,
      title: { type: 'plain_text', text: 'Launch a server' },
      app_id: TEST_APP_ID,
      bot_id: 'BBOT',
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
  return formRequest({ payload: JSON.stringify(payload) }, payload, sign);
}

export interface EventArgs {
  type: string;
  user?: string;
  /** `app_home_opened`: which tab; default 'home'. */
  tab?: string;
  channel?: string;
  [field: string]: unknown;
}

export interface EventOptions extends SignOptions {
  eventId?: string;
  /** A redelivery: sets `X-Slack-Retry-Num` (and the reason) as the Events API does. */
  retryNum?: number;
}

/** An Events API callback (JSON), e.g. `event({ type: 'app_home_opened', user: 'U1' })`. */
export function event(ev: EventArgs, opts: EventOptions = {}): SignedRequest {
  const now = Math.floor(Date.now() / 1000);
  const inner: Record<string, unknown> = { ...ev, event_ts: `${now}.${String(nextSeq()).padStart(6, '0')}` };
  if (ev.type === 'app_home_opened') {
    inner.tab = ev.tab ?? 'home';
    inner.channel = ev.channel ?? `D${(ev.user ?? 'X').slice(1)}`;
  }
  const payload = {
    token: 'legacy-verification-token',
    team_id: TEST_TEAM_ID,
    api_app_id: TEST_APP_ID,
    event: inner,
    type: 'event_callback',
    event_id: opts.eventId ?? `Ev${String(nextSeq()).padStart(8, '0')}`,
    event_time: now,
    authorizations: [{ team_id: TEST_TEAM_ID, user_id: 'UBOT', is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  };
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...signHeaders(body, opts) };
  if (opts.retryNum !== undefined) {
    headers['X-Slack-Retry-Num'] = String(opts.retryNum);
    headers['X-Slack-Retry-Reason'] = 'http_timeout';
  }
  return { body, headers, payload };
}

/** The Events API's URL check, sent when the request URL is saved in the app settings. */
export function urlVerification(challenge: string, sign: SignOptions = {}): SignedRequest {
  const payload = { token: 'legacy-verification-token', challenge, type: 'url_verification' };
  const body = JSON.stringify(payload);
  return { body, headers: { 'Content-Type': 'application/json', ...signHeaders(body, sign) }, payload };
}

export interface BotAnswer {
  status: number;
  /** The raw answer. */
  body: string;
  /** The answer parsed as JSON, when it is JSON. */
  json: unknown;
  /** Milliseconds from sending to the full answer (the ack). */
  ms: number;
}

/** POSTs to the bot's `/slack/events` (appended unless `baseUrl` already ends with it). */
export async function postToBot(baseUrl: string, request: SignedRequest): Promise<BotAnswer> {
  const url = /\/slack\/events\/?$/.test(baseUrl) ? baseUrl : `${baseUrl.replace(/\/+$/, '')}/slack/events`;
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
  const body = await res.text();
  const ms = performance.now() - t0;
  let json: unknown;
  try {
    json = body ? JSON.parse(body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, body, json, ms };
}
