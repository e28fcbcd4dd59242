// DOCKER_HOST as the docker CLI reads it, and the connection options it gives dockerode's modem
// (plain data: engine/docker.ts is the only module importing dockerode).
import { UserError } from '../lib/errors.ts';

const DEFAULT_SOCKET = '/var/run/docker.sock';

export interface DockerTarget {
  /** The address as users write it, for messages: unix:///var/run/docker.sock, tcp://host:2375. */
  display: string;
  socketPath?: string;
  host?: string;
  port?: number;
}

/** Reads DOCKER_HOST like the docker CLI: unix:///path, tcp://host[:port], host:port; unset = local socket. */
export function parseDockerHost(value: string | undefined): DockerTarget {
  const text = value?.trim() ?? '';
  if (text === '') return { display: `unix://${DEFAULT_SOCKET}`, socketPath: DEFAULT_SOCKET };
  if (text.startsWith('unix://')) {
    const socketPath = text.slice('unix://'.length) || DEFAULT_SOCKET;
    return { display: `unix://${socketPath}`, socketPath };
  }
  const withScheme = text.includes('://') ? text : `tcp://${text}`;
  let url: URL | undefined;
  try {
    url = new URL(withScheme);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'tcp:' && url.protocol !== 'http:') || url.hostname === '') {
    throw new UserError(
      'engine-unreachable',
      `DOCKER_HOST "${text}" is not an address this bot can use; set it to unix:///path/to/docker.sock or tcp://host:port.`,
    );
  }
  // The docker CLI's default for plain tcp is 2375.
  const port = url.port === '' ? 2375 : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { display: `tcp://${url.hostname}:${port}`, host, port };
}

/**
 * The options for `new Docker(...)` that reach `target`. No API version pinned: this engine
 * answers 400 to newer pins (FACTS). host/socketPath are both given explicitly because
 * docker-modem also reads DOCKER_HOST from the environment and would otherwise let it win.
 */
export function modemOptions(target: DockerTarget): {
  socketPath: string | undefined;
  host: string | undefined;
  port: number | undefined;
  protocol: 'http';
} {
  const { socketPath, host, port } = target;
  return socketPath !== undefined
    ? { socketPath, host: undefined, port: undefined, protocol: 'http' }
    : { host, port, protocol: 'http', socketPath: undefined };
}
