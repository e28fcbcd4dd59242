// The HTTP agent that carries Engine API requests to an ssh:// host. docker-modem's own SSH
// transport logs in anew and starts a new `docker system dial-stdio` for every request (about a
// second each: the handshake plus the remote login shell); this agent keeps one SSH connection per
// engine and each dial-stdio channel open as a keep-alive HTTP connection, so a call costs a round
// trip. The SSH connection opens at the first request and closes once no channel has been open
// for a while; idle channels close too (a restarted remote engine is not held open). Neither keeps
// the process alive: the TCP socket is referenced only while a request is under way.
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';

/** An idle keep-alive channel closes after this long, and the SSH connection this long after its last channel. */
export const SSH_IDLE_MS = 30_000;
/** Channels (each one remote dial-stdio) at once: under sshd's MaxSessions (10 by default). */
export const SSH_MAX_CHANNELS = 6;
/** What the channels run on the host, as the docker CLI does for ssh:// hosts. */
const DIAL_STDIO = 'docker system dial-stdio';

type SshConfig = ConnectConfig & { host: string; port: number };
type Connected = { client: Client; socket: net.Socket; channels: Set<ClientChannel> };

/**
 * One connection of the agent: a dial-stdio channel. It exists at once, so that http.Agent counts
 * it against maxSockets while the channel is still opening (the agent does not count connections it
 * waits for), and passes writes on once the channel is open. A failure to open it (the host key,
 * the login) is its 'error', which the request reports as its own.
 */
class ChannelSocket extends Duplex {
  private channel: ClientChannel | undefined;
  /** A write or the end, held until the channel is open (a Duplex sends one at a time). */
  private held: (() => void) | undefined;

  constructor(opening: Promise<ClientChannel>) {
    super({ allowHalfOpen: false });
    opening.then(
      (channel) => this.attach(channel),
      (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
    );
  }

  private attach(channel: ClientChannel): void {
    if (this.destroyed) {
      channel.destroy(); // the request gave up (its deadline) while the channel was opening
      return;
    }
    this.channel = channel;
    channel.stderr.resume(); // dial-stdio's complaints: read, so they never stall the channel
    channel.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) channel.pause();
    });
    let ended = false;
    const end = () => {
      if (!ended) this.push(null);
      ended = true;
    };
    channel.once('end', end);
    // A channel closed by the host (dial-stdio or the login ended) closes this connection, at
    // once when nothing is left to read (an idle one must not take the next request), else once
    // the reader has it all.
    channel.once('close', () => {
      end();
      if (this.readableLength === 0) this.destroy();
      else this.once('end', () => this.destroy());
    });
    channel.on('error', (err: Error) => this.destroy(err));
    const held = this.held;
    this.held = undefined;
    held?.();
  }

  override _read(): void {
    this.channel?.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    const write = () => this.channel?.write(chunk, encoding, callback);
    if (this.channel) write();
    else this.held = write;
  }

  override _final(callback: (err?: Error | null) => void): void {
    const end = () => {
      this.channel?.end();
      callback();
    };
    if (this.channel) end();
    else this.held = end;
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.channel?.destroy();
    callback(err);
  }

  // What http calls on a keep-alive net.Socket; a channel has no such settings.
  setKeepAlive(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/** One lazily opened SSH connection, its channels counted so that its socket holds the process
 * only while some request needs it. */
class SharedSsh {
  private connection: Promise<Connected> | undefined;
  private current: Connected | undefined;
  private readonly open = new Set<Duplex>();
  /** Connections given to a request (opening, or in use), as opposed to idle in the agent. */
  private readonly busy = new Set<Duplex>();
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly config: SshConfig) {}

  /** A new connection for one request: a channel opening (after the login, if need be). */
  socket(): Duplex {
    clearTimeout(this.closeTimer);
    const socket = new ChannelSocket(this.openChannel());
    this.open.add(socket);
    this.busy.add(socket);
    this.holdProcess();
    socket.once('close', () => {
      this.open.delete(socket);
      this.busy.delete(socket);
      this.holdProcess();
      if (this.open.size === 0) this.closeWhenIdle();
    });
    return socket;
  }

  /** A connection is back in the agent's free list, or handed to a request again. */
  markIdle(socket: Duplex): void {
    this.busy.delete(socket);
    this.holdProcess();
  }

  markBusy(socket: Duplex): void {
    if (this.open.has(socket)) this.busy.add(socket);
    this.holdProcess();
  }

  private async openChannel(): Promise<ClientChannel> {
    const first = await this.connect();
    try {
      return await exec(first);
    } catch (err) {
      // The connection died between two requests (the host restarted): one fresh try.
      if (this.current === first) throw err;
      return await exec(await this.connect());
    }
  }

  private connect(): Promise<Connected> {
    if (this.connection) return this.connection;
    const client = new Client();
    // Our own socket, so that it can be unreferenced; ssh2 starts the handshake on its 'connect'.
    const socket = net.connect({ host: this.config.host, port: this.config.port });
    const connected: Connected = { client, socket, channels: new Set() };
    const forget = () => {
      if (this.current === connected) {
        this.current = undefined;
        this.connection = undefined;
      }
    };
    const attempt = new Promise<Connected>((resolve, reject) => {
      client.once('ready', () => resolve(connected));
      // Before 'ready' this is the failure sshFailure turns into a sentence (it keeps ssh2's level).
      client.on('error', (err) => {
        forget();
        reject(err);
      });
      client.once('close', () => {
        forget();
        // ssh2 leaves the channels of a lost connection open: a kept one would take a request
        // and never answer it.
        for (const channel of connected.channels) channel.destroy();
        // A reset as far as the error mapping goes: "Docker is not reachable at ...".
        const closed = new Error(`The SSH connection to ${this.config.host} closed before it was ready.`);
        reject(Object.assign(closed, { code: 'ECONNRESET' }));
      });
    });
    this.connection = attempt;
    this.current = connected;
    this.holdProcess();
    client.connect({ ...this.config, sock: socket });
    return attempt;
  }

  private closeWhenIdle(): void {
    clearTimeout(this.closeTimer);
    const idle = this.current;
    this.closeTimer = setTimeout(() => {
      if (this.open.size === 0 && idle && this.current === idle) {
        this.current = undefined;
        this.connection = undefined;
        idle.client.end();
      }
    }, SSH_IDLE_MS);
    this.closeTimer.unref();
  }

  /** The socket keeps the process alive only while a request waits on it. */
  private holdProcess(): void {
    const socket = this.current?.socket;
    if (!socket) return;
    if (this.busy.size > 0) socket.ref();
    else socket.unref();
  }
}

/** A dial-stdio channel on `connected`, destroyed with it. */
function exec(connected: Connected): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    try {
      connected.client.exec(DIAL_STDIO, (err, channel) => {
        if (err) return reject(err);
        connected.channels.add(channel);
        channel.once('close', () => connected.channels.delete(channel));
        resolve(channel);
      });
    } catch (err) {
      reject(err); // "Not connected": the connection closed under us
    }
  });
}

/** Keeps dial-stdio channels as keep-alive connections, closing them after SSH_IDLE_MS unused. */
class DialStdioAgent extends http.Agent {
  private readonly idleTimers = new WeakMap<Duplex, NodeJS.Timeout>();

  constructor(private readonly ssh: SharedSsh) {
    super({ keepAlive: true, maxSockets: SSH_MAX_CHANNELS, maxFreeSockets: SSH_MAX_CHANNELS });
  }

  override createConnection(): Duplex {
    return this.ssh.socket();
  }

  override keepSocketAlive(socket: Duplex): boolean {
    this.ssh.markIdle(socket);
    const timer = setTimeout(() => socket.destroy(), SSH_IDLE_MS);
    timer.unref();
    this.idleTimers.set(socket, timer);
    return true;
  }

  override reuseSocket(socket: Duplex, request: http.ClientRequest): void {
    clearTimeout(this.idleTimers.get(socket));
    this.ssh.markBusy(socket);
    super.reuseSocket(socket, request); // drops the free socket's error listener
  }
}

/** An agent for dockerode's modem (protocol http) whose connections are channels of one SSH login. */
export function sshAgent(config: SshConfig): http.Agent {
  return new DialStdioAgent(new SharedSsh(config));
}
