// Slack's side of Socket Mode, for tests: a WebSocket server on 127.0.0.1 (ephemeral port) that
// greets each connection with `{"type":"hello"}`, sends envelopes as Slack does
// ({envelope_id, type, payload, accepts_response_payload}) and records the bot's acks
// ({envelope_id, payload}). Hand its `url` out through the Slack stand-in's apps.connections.open.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface Ack {
  envelope_id: string;
  payload?: Record<string, unknown>;
  /** Milliseconds from sending the envelope to its ack. */
  ms: number;
}

export class SocketStandIn {
  private readonly sockets = new Set<WebSocket>();
  private readonly sentAt = new Map<string, number>();
  private readonly acks: Ack[] = [];
  /** Connections opened so far (a reconnect is a second one). */
  connections = 0;

  private constructor(private readonly server: WebSocketServer) {
    server.on('connection', (socket) => {
      this.connections += 1;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('message', (data) => this.received(String(data)));
      socket.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'stand-in' } }));
    });
  }

  static async start(): Promise<SocketStandIn> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return new SocketStandIn(server);
  }

  /** What apps.connections.open should answer with. */
  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/link/?ticket=stand-in`;
  }

  /** Sends one envelope to every connected bot; returns its envelope_id. */
  send(
    type: EnvelopeType,
    payload: Record<string, unknown>,
    acceptsResponsePayload = type !== 'events_api',
  ): string {
    const envelopeId = randomUUID();
    const message = {
      envelope_id: envelopeId,
      type,
      payload,
      accepts_response_payload: acceptsResponsePayload,
    };
    this.sentAt.set(envelopeId, performance.now());
    for (const socket of this.sockets) socket.send(JSON.stringify(message));
    return envelopeId;
  }

  /** The ack of `envelopeId`, waiting (polling every 10 ms) at most `timeoutMs`. */
  async ack(envelopeId: string, timeoutMs = 5_000): Promise<Ack> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.acks.find((a) => a.envelope_id === envelopeId);
      if (found) return found;
      if (Date.now() >= until) throw new Error(`no ack of envelope ${envelopeId} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Every ack so far. */
  allAcks(): Ack[] {
    return [...this.acks];
  }

  /** Waits (bounded) until a bot is connected. */
  async connected(timeoutMs = 5_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.sockets.size === 0) {
      if (Date.now() >= until) throw new Error(`no bot connected within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Drops every connection, as Slack does when it recycles a server. */
  drop(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  /** Waits (bounded) until `n` connections were opened in all. */
  async opened(n: number, timeoutMs = 15_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.connections < n || this.sockets.size === 0) {
      if (Date.now() >= until)
        throw new Error(`${this.connections} of ${n} connections within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private received(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null || !('envelope_id' in message)) return;
    const { envelope_id, payload } = message as { envelope_id: string; payload?: Record<string, unknown> };
    const sent = this.sentAt.get(envelope_id);
    this.acks.push({ envelope_id, payload, ms: sent === undefined ? Number.NaN : performance.now() - sent });
  }
}

export function startSocketStandIn(): Promise<SocketStandIn> {
  return SocketStandIn.start();
}
