// SSH to a remote engine as the docker CLI does it: an SSH session runs `docker system dial-stdio`
// on the host (docker-ssh-agent.ts keeps one login and reuses its channels), so the host needs the
// docker CLI and the user access to its socket. Authentication and host-key checking follow ssh's own rules (a key file,
// else the agent, else ~/.ssh/id_*; the host's key must be in known_hosts), because ssh2 on its own
// accepts any host key.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AgentAuthMethod, ConnectConfig, PublicKeyAuthMethod, ServerHostKeyAlgorithm } from 'ssh2';
import { UserError } from '../lib/errors.ts';
import { isDict } from './docker-data.ts';
import { sshAgent } from './docker-ssh-agent.ts';

/** How this bot authenticates to ssh:// hosts and checks them. */
export interface SshSettings {
  /** A private key file (SPREADSERVE_SSH_KEY). */
  keyFile?: string;
  /** The known hosts file the host's key must be in (SPREADSERVE_SSH_KNOWN_HOSTS; ~/.ssh/known_hosts). */
  knownHostsFile?: string;
  /** An ssh-agent socket (SSH_AUTH_SOCK). */
  agentSocket?: string;
}

/** An ssh:// DOCKER_HOST, read (engine/docker-host.ts). */
export interface SshTarget {
  kind: 'ssh';
  display: string;
  host: string;
  port: number;
  username: string | undefined;
}

/** A silent host (a firewall dropping packets) fails the handshake after this long: under the
 * engine's quick-call bound (10 s, docker-timeouts.ts) so that this sentence, the precise one, wins. */
export const SSH_READY_TIMEOUT_MS = 8_000;
/** The keys ssh tries by default, in its order. */
const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
/** ssh2's default host key algorithms (all supported on Node 20), reordered to prefer known types. */
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

const unreachable = (sentence: string) => new UserError('engine-unreachable', sentence);

// ---- known_hosts ---------------------------------------------------------------------------

export interface KnownHost {
  marker: 'revoked' | 'cert-authority' | undefined;
  /** The host field: comma-separated patterns, or one hashed name |1|salt|hash. */
  hosts: string;
  /** The key blob (SSH wire format: its type, then its data). */
  key: Buffer;
}

/** The lines of a known_hosts file ssh would use; comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string): KnownHost[] {
  const entries: KnownHost[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]?.startsWith('#')) continue;
    let marker: KnownHost['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
      fields.shift();
    } else if (fields[0]?.startsWith('@')) continue; // a marker this ssh does not know
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) continue;
    const key = Buffer.from(base64, 'base64');
    if (keyType(key) !== type) continue; // a truncated or mislabelled key
    entries.push({ marker, hosts, key });
  }
  return entries;
}

/** The type a key blob names in its first field (e.g. ssh-ed25519); undefined when malformed. */
export function keyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** How known_hosts spells a host: the bare name on port 22, [name]:port otherwise. */
export function knownHostsName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** OpenSSH's wildcards: * any run, ? one character. */
function wildcard(pattern: string, text: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(text);
}

/** Whether a known_hosts host field names `name` (hashed or a pattern list with ! negations). */
export function hostsMatch(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [salt, hash] = hosts.slice(3).split('|');
    if (!salt || !hash) return false;
    const expected = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    const given = Buffer.from(hash, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
  let matched = false;
  for (const pattern of hosts.toLowerCase().split(',')) {
    if (pattern.startsWith('!')) {
      if (wildcard(pattern.slice(1), name)) return false; // a negated match wins over everything
    } else if (wildcard(pattern, name)) matched = true;
  }
  return matched;
}

export type HostKeyVerdict = 'known' | 'unknown' | 'mismatch' | 'revoked';

/** ssh's decision for a host's key against known_hosts entries. */
export function checkHostKey(
  entries: readonly KnownHost[],
  host: string,
  port: number,
  key: Buffer,
): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const mine = entries.filter((e) => e.marker !== 'cert-authority' && hostsMatch(e.hosts, name));
  if (mine.some((e) => e.marker === 'revoked' && e.key.equals(key))) return 'revoked';
  const listed = mine.filter((e) => e.marker === undefined);
  if (listed.some((e) => e.key.equals(key))) return 'known';
  // Only a different key of the same type is a change (an RSA blob says ssh-rsa whatever it signs with).
  const type = keyType(key);
  return listed.some((e) => keyType(e.key) === type) ? 'mismatch' : 'unknown';
}

/** The host key algorithms to offer: those of the host's known keys first, as ssh orders them. */
export function hostKeyAlgorithms(
  entries: readonly KnownHost[],
  host: string,
  port: number,
): string[] | undefined {
  const name = knownHostsName(host, port);
  const types = new Set(
    entries.filter((e) => e.marker === undefined && hostsMatch(e.hosts, name)).map((e) => keyType(e.key)),
  );
  if (types.size === 0) return undefined;
  const known = (algorithm: string) => types.has(algorithm.startsWith('rsa-sha2-') ? 'ssh-rsa' : algorithm);
  return [...HOST_KEY_ALGORITHMS.filter(known), ...HOST_KEY_ALGORITHMS.filter((a) => !known(a))];
}

// ---- sentences -----------------------------------------------------------------------------

function hostKeySentence(verdict: Exclude<HostKeyVerdict, 'known'>, target: SshTarget, file: string): string {
  const { display, host, port } = target;
  const name = knownHostsName(host, port);
  switch (verdict) {
    case 'unknown':
      return `The SSH host key of ${display} is not in ${file}, so the bot refused to connect; check its fingerprint with the host's admin, then add it with \`ssh-keyscan -p ${port} ${host} >> ${file}\`.`;
    case 'mismatch':
      return `WARNING: the SSH host key of ${display} does NOT match the one in ${file} (possible man-in-the-middle attack), so the bot refused to connect; only if the host's admin confirms the new fingerprint, remove the old entry with \`ssh-keygen -R '${name}' -f ${file}\` and add the new one.`;
    case 'revoked':
      return `The SSH host key of ${display} is marked @revoked in ${file}, so the bot refused to connect; the host needs a new key.`;
  }
}

/** The last host-key refusal per target: ssh2 reports only "Host denied", sshFailure names why. */
const refusals = new Map<string, string>();

// ---- keys ----------------------------------------------------------------------------------

export type SshAuth = { kind: 'key'; file: string; key: Buffer } | { kind: 'agent'; socket: string };

/** Whether a private key needs a passphrase (the bot has no way to ask for one). */
export function isEncryptedKey(text: string): boolean {
  if (/Proc-Type:\s*4,ENCRYPTED|BEGIN ENCRYPTED PRIVATE KEY/.test(text)) return true;
  const body = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(
    text,
  )?.[1];
  if (body === undefined) return false;
  // openssh-key-v1\0, then the cipher name as an SSH string: "none" when unencrypted.
  const blob = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  const magic = 'openssh-key-v1\0'.length;
  if (blob.length < magic + 4) return false;
  const length = blob.readUInt32BE(magic);
  return blob.subarray(magic + 4, magic + 4 + length).toString('latin1') !== 'none';
}

function readKey(file: string, display: string): Buffer {
  let key: Buffer;
  try {
    key = readFileSync(file);
  } catch (err) {
    const code = isDict(err) && typeof err.code === 'string' ? ` (${err.code})` : '';
    throw unreachable(
      `The SSH key file ${file} for ${display} cannot be read${code}; fix SPREADSERVE_SSH_KEY or the file's permissions.`,
    );
  }
  if (isEncryptedKey(key.toString('utf8'))) {
    throw unreachable(
      `The SSH key file ${file} for ${display} is protected by a passphrase the bot cannot type; load it into ssh-agent (SSH_AUTH_SOCK) instead, or use a key without one.`,
    );
  }
  return key;
}

/** As ssh: SPREADSERVE_SSH_KEY, else the agent, else the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa. */
export function chooseAuth(settings: SshSettings, display: string, home = os.homedir()): SshAuth {
  if (settings.keyFile)
    return { kind: 'key', file: settings.keyFile, key: readKey(settings.keyFile, display) };
  if (settings.agentSocket) return { kind: 'agent', socket: settings.agentSocket };
  for (const name of DEFAULT_KEYS) {
    const file = path.join(home, '.ssh', name);
    if (existsSync(file)) return { kind: 'key', file, key: readKey(file, display) };
  }
  throw unreachable(
    `There is no SSH key to log in to ${display} with; set SPREADSERVE_SSH_KEY to a private key file or SSH_AUTH_SOCK to an ssh-agent.`,
  );
}

// ---- modem options and failures --------------------------------------------------------------

/** How ssh2 logs in to `target` and checks it, as ssh would (see the top of this file). */
export function sshConnectConfig(
  target: SshTarget,
  settings: SshSettings,
  home = os.homedir(),
): ConnectConfig & { host: string; port: number; username: string } {
  // ssh logs in as the local user when DOCKER_HOST names none.
  const username = target.username ?? os.userInfo().username;
  const auth = chooseAuth(settings, target.display, home);
  const knownHostsFile = settings.knownHostsFile ?? path.join(home, '.ssh', 'known_hosts');
  const readEntries = (): KnownHost[] => {
    try {
      return parseKnownHosts(readFileSync(knownHostsFile, 'utf8'));
    } catch {
      return []; // no file: every host is unknown, which the verifier says
    }
  };
  const algorithms = hostKeyAlgorithms(readEntries(), target.host, target.port);
  const method: PublicKeyAuthMethod | AgentAuthMethod =
    auth.kind === 'key'
      ? { type: 'publickey', username, key: auth.key }
      : { type: 'agent', username, agent: auth.socket };
  return {
    host: target.host,
    port: target.port,
    username,
    // One authentication method, the one ssh would pick (chooseAuth), not every one ssh2 knows.
    authHandler: [method],
    readyTimeout: SSH_READY_TIMEOUT_MS,
    ...(algorithms ? { algorithms: { serverHostKey: algorithms as ServerHostKeyAlgorithm[] } } : {}),
    // Read at each connection: a key added with ssh-keyscan counts without a restart.
    hostVerifier: (key: Buffer): boolean => {
      const verdict = checkHostKey(readEntries(), target.host, target.port, key);
      if (verdict === 'known') return true;
      refusals.set(target.display, hostKeySentence(verdict, target, knownHostsFile));
      return false;
    },
  };
}

/**
 * The modem options for an ssh:// engine: plain HTTP whose connections are `docker system
 * dial-stdio` channels of one shared SSH login (docker-ssh-agent.ts), not docker-modem's own SSH
 * transport, which logs in anew for every request.
 */
export function sshModemOptions(
  target: SshTarget,
  settings: SshSettings,
  home = os.homedir(),
): { host: string; port: number; protocol: 'http'; agent: Agent } {
  const config = sshConnectConfig(target, settings, home);
  return { host: target.host, port: target.port, protocol: 'http', agent: sshAgent(config) };
}

/** An SSH failure reaching the engine (host key refused, login refused, no handshake) as one sentence. */
export function sshFailure(err: unknown, display: string): UserError | undefined {
  if (!display.startsWith('ssh://') || !(err instanceof Error)) return undefined;
  const level = isDict(err) && typeof err.level === 'string' ? err.level : undefined;
  const sentence = (() => {
    if (/Host denied/i.test(err.message)) {
      return refusals.get(display) ?? `The SSH host ${display} was refused by the host key check.`;
    }
    if (level === 'client-authentication') {
      return `The SSH login to ${display} was refused: the host accepts none of the bot's keys; add the bot's public key to that user's ~/.ssh/authorized_keys on the host, or set SPREADSERVE_SSH_KEY to a key it accepts.`;
    }
    if (level === 'agent') {
      return `The ssh-agent at SSH_AUTH_SOCK could not sign the login to ${display} (${err.message}); start it and add the key with ssh-add, or set SPREADSERVE_SSH_KEY to a key file.`;
    }
    if (level === 'client-timeout') {
      return `The SSH host ${display} did not complete the handshake within ${SSH_READY_TIMEOUT_MS / 1000} s; check that sshd runs on that port and that no firewall drops the connection.`;
    }
    if (level === 'handshake' || level === 'protocol') {
      return `The SSH handshake with ${display} failed (${err.message}); check that it is an SSH server and its ssh settings.`;
    }
    // Logged in, but the remote `docker system dial-stdio` closed its stream before any answer:
    // docker-modem does not pass on its stderr, so name the usual causes.
    if (isDict(err) && err.code === 'ECONNRESET' && /socket hang up/i.test(err.message)) {
      return `The SSH host ${display} ran \`docker system dial-stdio\` but it ended without an answer; check that the docker CLI is installed there, that the engine runs, and that the SSH user may use its socket (e.g. is in the docker group).`;
    }
    return undefined;
  })();
  return sentence === undefined
    ? undefined
    : new UserError('engine-unreachable', sentence, [], { cause: err });
}
