// Where the engine is and how to reach it: DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
// as the docker CLI reads them, and the connection options they give dockerode's modem
// (engine/docker.ts is the only module importing dockerode). TLS details live in docker-tls.ts;
// SSH details in docker-ssh.ts, whose HTTP agent carries every call over one SSH login.
import type { Agent } from 'node:http';
import { UserError } from '../lib/errors.ts';
import { type SshSettings, type SshTarget, sshModemOptions } from './docker-ssh.ts';
import { tlsModemOptions } from './docker-tls.ts';

const DEFAULT_SOCKET = '/var/run/docker.sock';
/** The docker CLI's default ports for tcp:// without one. */
const PLAIN_PORT = 2375;
const TLS_PORT = 2376;
const SSH_PORT = 22;

/** How to reach the engine, as configured (core/config.ts reads the variables). */
export interface DockerConnection {
  /** DOCKER_HOST as the docker CLI reads it; the local socket when absent. */
  dockerHost?: string;
  /** DOCKER_TLS_VERIFY is set (to anything, as the docker CLI reads it): TLS, server verified. */
  tlsVerify?: boolean;
  /** DOCKER_CERT_PATH: the directory of ca.pem, cert.pem and key.pem; ~/.docker when absent. */
  certPath?: string;
  /** For ssh:// hosts: the key, the known hosts, the agent. */
  ssh?: SshSettings;
}

export type DockerTarget =
  | { kind: 'unix'; display: string; socketPath: string }
  | { kind: 'tcp'; display: string; host: string; port: number; tls: boolean }
  | SshTarget;

const unusable = (text: string) =>
  new UserError(
    'engine-unreachable',
    `DOCKER_HOST "${text}" is not an address this bot can use; set it to unix:///path/to/docker.sock, tcp://host:port or ssh://user@host.`,
  );

/**
 * Reads DOCKER_HOST like the docker CLI: unix:///path, tcp://host[:port], host:port,
 * ssh://[user@]host[:port]; unset = the local socket. `tls` (DOCKER_TLS_VERIFY) makes tcp use TLS,
 * on port 2376 when none is given.
 */
export function parseDockerHost(value: string | undefined, tls = false): DockerTarget {
  const text = value?.trim() ?? '';
  if (text === '') return { kind: 'unix', display: `unix://${DEFAULT_SOCKET}`, socketPath: DEFAULT_SOCKET };
  if (text.startsWith('unix://')) {
    const socketPath = text.slice('unix://'.length) || DEFAULT_SOCKET;
    return { kind: 'unix', display: `unix://${socketPath}`, socketPath };
  }
  const withScheme = text.includes('://') ? text : `tcp://${text}`;
  let url: URL | undefined;
  try {
    url = new URL(withScheme);
  } catch {
    url = undefined;
  }
  if (!url || url.hostname === '' || (url.pathname !== '' && url.pathname !== '/')) throw unusable(text);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.protocol === 'ssh:') {
    if (url.password !== '') throw unusable(text); // a password in DOCKER_HOST would end up in logs
    const port = url.port === '' ? SSH_PORT : Number(url.port);
    const username = url.username === '' ? undefined : decodeURIComponent(url.username);
    const who = username === undefined ? '' : `${username}@`;
    return { kind: 'ssh', display: `ssh://${who}${url.hostname}:${port}`, host, port, username };
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:') throw unusable(text);
  if (url.username !== '' || url.password !== '') throw unusable(text);
  const port = url.port === '' ? (tls ? TLS_PORT : PLAIN_PORT) : Number(url.port);
  return { kind: 'tcp', display: `tcp://${url.hostname}:${port}`, host, port, tls };
}

/** What `new Docker(...)` takes, as far as this bot sets it (structurally dockerode's options). */
export interface ModemOptions {
  socketPath: string | undefined;
  host: string | undefined;
  port: number | undefined;
  protocol: 'http' | 'https' | 'ssh';
  ca?: string | Buffer | Buffer[];
  cert?: string | Buffer;
  key?: string | Buffer;
  username?: string;
  sshOptions?: Record<string, unknown>;
  /** For ssh:// hosts: the agent whose connections are channels of one SSH login (docker-ssh-agent.ts). */
  agent?: Agent;
}

/**
 * The options for `new Docker(...)` that reach `target`. No API version pinned: this engine
 * answers 400 to newer pins (FACTS). host/socketPath and the TLS files are always given
 * explicitly, because docker-modem also reads DOCKER_HOST, DOCKER_CERT_PATH and DOCKER_TLS_VERIFY
 * from the environment and would otherwise let them win. Reads the certificate or key files now:
 * a missing one is a UserError naming it.
 */
export function modemOptions(target: DockerTarget, connection: DockerConnection = {}): ModemOptions {
  const none = { ca: undefined, cert: undefined, key: undefined };
  switch (target.kind) {
    case 'unix':
      return { ...none, socketPath: target.socketPath, host: undefined, port: undefined, protocol: 'http' };
    case 'tcp': {
      const plain = { ...none, host: target.host, port: target.port, socketPath: undefined };
      if (!target.tls) return { ...plain, protocol: 'http' };
      return { ...plain, ...tlsModemOptions(connection.certPath), protocol: 'https' };
    }
    case 'ssh':
      return {
        ...none,
        socketPath: undefined,
        ...sshModemOptions(target, connection.ssh ?? {}),
      };
  }
}

/** The target and the modem options of a configured connection (one parse for both). */
export function connect(connection: DockerConnection): { target: DockerTarget; modem: ModemOptions } {
  const target = parseDockerHost(connection.dockerHost, connection.tlsVerify === true);
  return { target, modem: modemOptions(target, connection) };
}
