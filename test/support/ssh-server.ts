// A real OpenSSH server for the SSH tests: `/usr/sbin/sshd -D -e -f <config>` on 127.0.0.1:<port>,
// with a host key and client keys made by ssh-keygen in a temp dir and a config of its own (keys
// only, root allowed by key, no PAM). `docker system dial-stdio` run through it reaches this
// machine's main engine on its default socket, so ssh://root@127.0.0.1:<port> is a remote engine
// the tests own. Needs root (CI runs as root) and openssh-server (`bash scripts/test-tools.sh`);
// fails loudly without them. A server left by an interrupted earlier run on the same port is
// killed first (found by its config path in /proc/*/cmdline).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SSHD = '/usr/sbin/sshd';
const START_DEADLINE_MS = 10_000;
const STOP_DEADLINE_MS = 5_000;
const TEMP_PREFIX = 'ss-sshd-';

export interface SshServer {
  port: number;
  /** The temp dir holding the keys and files; removed by stop(). */
  dir: string;
  /** The client key sshd accepts for root (SPREADSERVE_SSH_KEY). */
  clientKey: string;
  /** A well-formed key that is not in authorized_keys. */
  strangerKey: string;
  /** A known_hosts file listing this server's host key for [127.0.0.1]:port. */
  knownHosts: string;
  /** The host's public key, "type base64". */
  hostPublicKey: string;
  /** A public key of another host, "type base64" (for a known_hosts that does not match). */
  otherHostPublicKey: string;
  /** How many logins sshd has accepted so far (its "Accepted publickey" log lines). */
  logins(): number;
  /** Writes a known_hosts file in the temp dir with these lines; returns its path. */
  writeKnownHosts(name: string, lines: string[]): string;
  /** Kills sshd and removes the temp dir. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The config file of an sshd these tests started: its command line (which sshd rewrites to
 * "sshd: /usr/sbin/sshd -D -e -f <config> [listener] ...") names one in an ss-sshd- temp dir. */
function testSshdConfig(pid: string): string | undefined {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined; // gone, or not ours to read
  }
  if (!cmdline.includes(SSHD)) return undefined;
  const config = / -f (\S+)/.exec(cmdline)?.[1];
  return config && path.basename(path.dirname(config)).startsWith(TEMP_PREFIX) ? config : undefined;
}

/**
 * Kills the sshd an interrupted earlier run left listening on `port` (found by its config in
 * /proc/<pid>/cmdline, never the system's sshd) and removes its temp dir.
 */
async function killLeftover(port: number): Promise<void> {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const config = testSshdConfig(pid);
    if (config === undefined) continue;
    let text = '';
    try {
      text = readFileSync(config, 'utf8');
    } catch {
      text = '';
    }
    if (!text.split('\n').includes(`Port ${port}`)) continue;
    process.kill(Number(pid), 'SIGKILL');
    for (let i = 0; i < 50 && isAlive(Number(pid)); i++) await sleep(20);
    rmSync(path.dirname(config), { recursive: true, force: true });
  }
}

function keygen(file: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', path.basename(file), '-f', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 30_000,
  });
  const [type, base64] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  return `${type} ${base64}`;
}

/** Resolves once sshd says it listens on 127.0.0.1:port (not merely that something does); rejects
 * if it exits first or time runs out. */
async function waitForListening(child: ChildProcess, port: number, log: () => string): Promise<void> {
  const deadline = Date.now() + START_DEADLINE_MS;
  const listening = `Server listening on 127.0.0.1 port ${port}.`;
  for (let i = 0; i < 500 && Date.now() < deadline; i++) {
    if (log().includes(listening)) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sshd on 127.0.0.1:${port} exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
    }
    await sleep(20);
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${START_DEADLINE_MS} ms:\n${log()}`);
}

/** `forceCommand`: what every session runs instead of the client's command (a host without docker). */
export async function startSshServer(
  port: number,
  options: { forceCommand?: string } = {},
): Promise<SshServer> {
  if (process.getuid?.() !== 0) {
    throw new Error('The SSH tests start sshd and log in as root: run them as root (CI does).');
  }
  if (!existsSync(SSHD)) {
    throw new Error(
      `${SSHD} is missing: run \`bash scripts/test-tools.sh\` (installs openssh-server) first.`,
    );
  }
  await killLeftover(port);
  const dir = mkdtempSync(path.join(os.tmpdir(), TEMP_PREFIX));
  const file = (name: string) => path.join(dir, name);
  let child: ChildProcess | undefined;
  try {
    const hostPublicKey = keygen(file('host_key'));
    const otherHostPublicKey = keygen(file('other_host_key'));
    const clientPublic = keygen(file('client_key'));
    keygen(file('stranger_key'));
    writeFileSync(file('authorized_keys'), `${clientPublic}\n`, { mode: 0o600 });
    writeFileSync(
      file('sshd_config'),
      [
        'ListenAddress 127.0.0.1',
        `Port ${port}`,
        `HostKey ${file('host_key')}`,
        `AuthorizedKeysFile ${file('authorized_keys')}`,
        `PidFile ${file('sshd.pid')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'AllowUsers root',
        'X11Forwarding no',
        'PrintMotd no',
        'LogLevel VERBOSE',
        ...(options.forceCommand ? [`ForceCommand ${options.forceCommand}`] : []),
        '',
      ].join('\n'),
    );
    // sshd's privilege separation directory; a fresh machine without the service lacks it.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    let log = '';
    let logins = 0;
    let partialLine = '';
    child = spawn(SSHD, ['-D', '-e', '-f', file('sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      log = `${log}${text}`.slice(-8000);
      // Counted by whole lines: a chunk may end in the middle of one.
      const lines = `${partialLine}${text}`.split('\n');
      partialLine = lines.pop() ?? '';
      logins += lines.filter((line) => line.includes('Accepted publickey for ')).length;
    });
    await waitForListening(child, port, () => log);
    const running = child;
    const writeKnownHosts = (name: string, lines: string[]) => {
      writeFileSync(file(name), `${lines.join('\n')}\n`);
      return file(name);
    };
    return {
      port,
      dir,
      clientKey: file('client_key'),
      strangerKey: file('stranger_key'),
      knownHosts: writeKnownHosts('known_hosts', [`[127.0.0.1]:${port} ${hostPublicKey}`]),
      hostPublicKey,
      otherHostPublicKey,
      logins: () => logins,
      writeKnownHosts,
      stop: () => stop(running, dir),
    };
  } catch (err) {
    if (child) await stop(child, dir);
    else rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const inTime = await Promise.race([exited.then(() => true), sleep(STOP_DEADLINE_MS).then(() => false)]);
    if (!inTime) {
      child.kill('SIGKILL');
      await Promise.race([exited, sleep(STOP_DEADLINE_MS)]);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
