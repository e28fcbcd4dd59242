// A disposable Docker engine for fault tests: a dockerd of its own, beside the main one, that a test
// may freeze (SIGSTOP), kill -9 and start again without touching anything else. It runs in a
// network namespace of its own (its own docker0 and iptables there), reached from the host through
// a veth: containers publish on `bindIp`, an address that exists only in that namespace. It has its
// own socket, data root, exec root, pid file, config file and cgroup parent, and its own containerd.
// Teardown works after a kill -9 too (FACTS): runc state deleted, leftover shims and containerd
// killed by pid, mounts under its directory unmounted, the namespace (and so the veth) deleted.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach } from 'vitest';
import { DOCKER_TIMEOUTS } from '../../engine/docker-timeouts.ts';
import { BASE_IMAGE } from './docker.ts';

const run = promisify(execFile);

/** How long dockerd may take to answer after it was started (a restart after kill -9 included). */
const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 100;
/** How long a graceful stop (SIGTERM) may take before the sandbox is killed. */
const STOP_TIMEOUT_MS = 15_000;

/**
 * The engine calls' bound in the fault tests on a sandbox: the bot's default. A start on the
 * sandbox engine takes about 1 s alone and up to 2.5 s under the Docker and Swarm tiers' load, and
 * went past 5 s (these tests' bound once) in CI runs: the runc hook that sets up the container's
 * network waited for CPU.
 */
export const SANDBOX_QUICK_MS = DOCKER_TIMEOUTS.quickMs;

export interface SandboxOptions {
  /** Short [a-z0-9] name (at most 8 characters): names the namespace, the veth and the directory. */
  tag: string;
  /** The third octet of the sandbox's /24 (10.232.<subnet>.0/24), unique per test file. */
  subnet: number;
  /** Also listen on tcp://<bindIp>:2376 with --tlsverify and these files (the server's side). */
  tls?: { ca: string; cert: string; key: string };
}

/** The port dockerd's TLS listener takes in the sandbox (Docker's own default for TLS). */
export const SANDBOX_TLS_PORT = 2376;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** GET /_ping on a unix socket: true on a 200 within `ms`. */
export function pings(socketPath: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: ms, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Pids of live processes whose command line mentions `needle` (this sandbox's directory). */
export function pidsMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Whether `pid` runs (a zombie does not). */
export const isLive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

export class EngineSandbox {
  readonly dir: string;
  readonly socket: string;
  readonly dockerHost: string;
  readonly netns: string;
  /** The sandbox's address: containers publish here; the host reaches it through the veth. */
  readonly bindIp: string;
  private readonly hostIp: string;
  private readonly hostLink: string;
  private readonly tls: SandboxOptions['tls'];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** The last kill()'s cleanup: a start waits for it (it clears the pid file of containerd). */
  private killed: Promise<void> = Promise.resolve();

  private constructor(options: SandboxOptions) {
    if (!/^[a-z0-9]{1,8}$/.test(options.tag)) throw new Error(`bad sandbox tag ${options.tag}`);
    this.dir = `/tmp/ss-engine-sandbox-${options.tag}`;
    this.socket = path.join(this.dir, 'docker.sock');
    this.dockerHost = `unix://${this.socket}`;
    this.netns = `ss-sbx-${options.tag}`;
    this.hostLink = `ssbh-${options.tag}`;
    this.hostIp = `10.232.${options.subnet}.1`;
    this.bindIp = `10.232.${options.subnet}.2`;
    this.tls = options.tls;
  }

  /** Makes the namespace, starts dockerd there and loads the base image from the main engine. */
  static async start(options: SandboxOptions): Promise<EngineSandbox> {
    if (process.getuid?.() !== 0) {
      throw new Error(
        'The engine fault tests start a dockerd of their own and must run as root (as CI does).',
      );
    }
    const sandbox = new EngineSandbox(options);
    await sandbox.teardown(); // what an interrupted earlier run left
    try {
      mkdirSync(path.join(sandbox.dir, 'data'), { recursive: true });
      writeFileSync(path.join(sandbox.dir, 'daemon.json'), '{}\n');
      await sandbox.makeNetwork();
      await sandbox.startDaemon();
      await run('sh', ['-c', `docker save ${BASE_IMAGE} | docker -H ${sandbox.dockerHost} load`]);
    } catch (err) {
      await sandbox.teardown();
      throw err;
    }
    return sandbox;
  }

  private async makeNetwork(): Promise<void> {
    const ns = this.netns;
    const peer = `ssbn-${this.netns.slice('ss-sbx-'.length)}`;
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['link', 'add', this.hostLink, 'type', 'veth', 'peer', 'name', peer]);
    await run('ip', ['link', 'set', peer, 'netns', ns]);
    await run('ip', ['addr', 'add', `${this.hostIp}/24`, 'dev', this.hostLink]);
    await run('ip', ['link', 'set', this.hostLink, 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', `${this.bindIp}/24`, 'dev', peer]);
    await run('ip', ['-n', ns, 'link', 'set', peer, 'up']);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** The dockerd pid (nsenter execs it in place). */
  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error('the sandbox engine is not running');
    return pid;
  }

  /** Starts dockerd on the same roots (again, after kill()); resolves when it answers. */
  async startDaemon(): Promise<void> {
    // A kill() fired without await (mid-launch) may still be cleaning up: its end must not clear
    // the new child or remove the new containerd's pid file (it did, in a CI run under load).
    await this.killed;
    const d = this.dir;
    const tls = this.tls;
    const tlsArgs = tls
      ? ['-H', `tcp://${this.bindIp}:${SANDBOX_TLS_PORT}`, '--tlsverify'].concat([
          '--tlscacert',
          tls.ca,
          '--tlscert',
          tls.cert,
          '--tlskey',
          tls.key,
        ])
      : [];
    const log = openSync(path.join(d, 'dockerd.log'), 'a');
    // nsenter, not `ip netns exec`, which remounts /sys and hides the cgroups from dockerd (FACTS).
    const child = spawn(
      'nsenter',
      [
        `--net=/run/netns/${this.netns}`,
        'dockerd',
        '-H',
        this.dockerHost,
        '--data-root',
        path.join(d, 'data'),
        '--exec-root',
        path.join(d, 'exec'),
        '--pidfile',
        path.join(d, 'docker.pid'),
        '--config-file',
        path.join(d, 'daemon.json'),
        '--cgroup-parent',
        this.netns,
        // Each API call and restore step with its time: what a failed fault test's log must show.
        '--debug',
        ...tlsArgs,
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log); // the child has its own copy
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (let i = 0; i < READY_TIMEOUT_MS / READY_POLL_MS && Date.now() < deadline; i++) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (await pings(this.socket, 1000)) return;
      await sleep(READY_POLL_MS);
    }
    throw new Error(`the sandbox dockerd did not answer; see ${path.join(d, 'dockerd.log')}`);
  }

  /**
   * Relays tcp://127.0.0.1:<hostPort> to the TLS listener in the namespace, byte for byte (TLS
   * stays end to end between the client and dockerd), so a test reaches the engine on 127.0.0.1
   * as a user reaches a remote one. Resolves once listening; close() ends it and its connections.
   */
  async relayTls(hostPort: number): Promise<{ url: string; close(): Promise<void> }> {
    const sockets = new Set<net.Socket>();
    const track = (socket: net.Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    };
    const server = net.createServer((inbound) => {
      track(inbound);
      const outbound = net.connect(SANDBOX_TLS_PORT, this.bindIp);
      track(outbound);
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('error', () => outbound.destroy());
      outbound.on('error', () => inbound.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(hostPort, '127.0.0.1', () => resolve());
    });
    return {
      url: `tcp://127.0.0.1:${hostPort}`,
      close: () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    };
  }

  freeze(): void {
    process.kill(this.pid, 'SIGSTOP');
  }

  thaw(): void {
    process.kill(this.pid, 'SIGCONT');
  }

  /** kill -9 of dockerd (its shims and containers stay, as after a crash); resolves once it is gone. */
  kill(): Promise<void> {
    process.kill(this.pid, 'SIGKILL');
    this.killed = (async () => {
      await this.exited; // startDaemon() waits for this cleanup, so the child is still this one
      this.child = undefined;
      await forgetDeadContainerd(path.join(this.dir, 'exec'));
    })();
    return this.killed;
  }

  /**
   * The last `lines` lines of the sandbox dockerd's log (all its starts), without those `skip`
   * matches; '' before the first start.
   */
  logTail(lines: number, skip: RegExp): string {
    const file = path.join(this.dir, 'dockerd.log');
    if (!existsSync(file)) return '';
    const all = readFileSync(file, 'utf8').trimEnd().split('\n');
    return all
      .filter((l) => !skip.test(l))
      .slice(-lines)
      .join('\n');
  }

  /** The docker CLI against the sandbox. */
  async docker(...args: string[]): Promise<string> {
    const { stdout } = await run('docker', ['-H', this.dockerHost, ...args], { timeout: 30_000 });
    return stdout.trim();
  }

  /** Stops the sandbox for good, even after a kill -9 or mid-freeze; never throws. */
  async teardown(): Promise<void> {
    const child = this.child;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGCONT');
        const ids = (await this.docker('ps', '-aq')).split('\n').filter(Boolean);
        if (ids.length > 0) await this.docker('rm', '-f', ...ids);
      } catch {
        // killed below all the same
      }
      process.kill(child.pid, 'SIGTERM');
      const stopped = await Promise.race([
        this.exited.then(() => true),
        sleep(STOP_TIMEOUT_MS).then(() => false),
      ]);
      if (!stopped) {
        process.kill(child.pid, 'SIGKILL');
        await this.exited;
      }
    }
    this.child = undefined;
    await this.cleanLeftovers();
  }

  /** After a kill -9: runc state, shims, containerd, docker-proxy, mounts, the namespace, the files. */
  private async cleanLeftovers(): Promise<void> {
    await removeEngineLeftovers(this.dir, this.netns, async () => {
      await run('ip', ['netns', 'del', this.netns]).catch(() => undefined);
      await run('ip', ['link', 'del', this.hostLink]).catch(() => undefined);
    });
  }
}

/**
 * After each failed test of the calling file, the last lines of its sandbox dockerd's log on
 * stderr (without the ~100 lines of API routes each start registers): teardown removes the
 * sandbox's directory, and a CI run keeps nothing else of it.
 */
export function showEngineLogOnFailure(sandbox: () => EngineSandbox | undefined, lines = 120): void {
  afterEach(({ task }) => {
    if (task.result?.state !== 'fail') return;
    const tail = sandbox()?.logTail(lines, /msg="Registering /);
    if (tail) process.stderr.write(`${task.name}: the sandbox dockerd's last log lines:\n${tail}\n`);
  });
}

/**
 * After a kill -9 of a dockerd whose exec root is `execRoot`: its containerd follows it out, but
 * stays a zombie until init reaps it, and kill(pid, 0) succeeds on a zombie (FACTS): a dockerd
 * started meanwhile would take it for alive and never start its own. Once it is dead or a zombie,
 * its pid file goes, as after a reboot.
 */
export async function forgetDeadContainerd(execRoot: string): Promise<void> {
  const pidFile = path.join(execRoot, 'containerd', 'containerd.pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : Number.NaN;
  for (let i = 0; i < 100 && Number.isInteger(pid) && isLive(pid); i++) await sleep(50);
  rmSync(pidFile, { force: true });
}

/**
 * What a dockerd kept in `dir` (its data root at dir/data, exec root at dir/exec) leaves after a
 * kill -9: runc state, shims and containerd (`findProcesses`: by default any process naming the
 * directory, a scan of every command line), mounts under it; then `removeNetwork` (its namespace:
 * nothing holds it any more), the directory and the cgroup parent. Never throws.
 */
export async function removeEngineLeftovers(
  dir: string,
  cgroupParent: string,
  removeNetwork: () => Promise<void>,
  findProcesses: () => Promise<number[]> = async () => pidsMentioning(`${dir}/`),
): Promise<void> {
  const runcRoot = path.join(dir, 'exec', 'runtime-runc', 'moby');
  if (existsSync(runcRoot)) {
    const { stdout } = await run('runc', ['--root', runcRoot, 'list', '-q']).catch(() => ({ stdout: '' }));
    const ids = stdout.split('\n').filter(Boolean);
    await Promise.all(
      ids.map((id) => run('runc', ['--root', runcRoot, 'delete', '--force', id]).catch(() => undefined)),
    );
  }
  for (const pid of await findProcesses()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  await sleep(100);
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  // One umount for all (it goes on past a failure): a process costs much on a busy machine.
  if (mounts.length > 0) await run('umount', ['-l', ...mounts]).catch(() => undefined);
  await removeNetwork();
  rmSync(dir, { recursive: true, force: true });
  // The cgroup parent (cgroup v1: one per controller), its containers' cgroups first.
  for (const controller of readdirSync('/sys/fs/cgroup')) {
    const parent = path.join('/sys/fs/cgroup', controller, cgroupParent);
    if (!existsSync(parent)) continue;
    try {
      for (const child of readdirSync(parent, { withFileTypes: true })) {
        if (child.isDirectory()) rmdirSync(path.join(parent, child.name));
      }
      rmdirSync(parent);
    } catch {
      // still busy: left for the next run's teardown
    }
  }
}
