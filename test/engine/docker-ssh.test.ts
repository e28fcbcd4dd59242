// How the bot checks ssh:// hosts and logs in, without a network: known_hosts as ssh reads it
// (plain, [host]:port, hashed, wildcard and negated patterns, @revoked, @cert-authority, comments
// and malformed lines), which key it logs in with, and the sentences for each SSH failure. The
// keys below are real ones made with ssh-keygen; the hashed lines are `ssh-keygen -H` output for
// example.org and [example.org]:2222 with key A. test/engine/ssh.docker.test.ts does it for real.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDockerHost } from '../../engine/docker-host.ts';
import {
  checkHostKey,
  chooseAuth,
  hostKeyAlgorithms,
  isEncryptedKey,
  parseKnownHosts,
  SSH_READY_TIMEOUT_MS,
  sshConnectConfig,
  sshFailure,
  sshModemOptions,
} from '../../engine/docker-ssh.ts';
import { SSH_MAX_CHANNELS } from '../../engine/docker-ssh-agent.ts';
import { UserError } from '../../lib/errors.ts';

const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGBtGcBQI8irePd0mqy/JtJzQI84NhbkY+QP/2JzWKgJ';
const KEY_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILJGRYnRzHcVKcGE+QeS5Sfmocwmv4kta0jj324SjVrc';
const KEY_C =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLJETzQFS3VCo9ZmBFIBdLorLQDL0aJ1Il+5A6p5NrPaYW1mkkpwjpFhQ3vKAVd2vU582Fz/iwbCIjW68gNEUb8=';
const HASHED_EXAMPLE_ORG = `|1|mnZ1xRlDCX0DmxveORPDNms3D+w=|BRnHrBesalx7iprMlY28IJiMKxQ= ${KEY_A}`;
const HASHED_EXAMPLE_ORG_2222 = `|1|v86HM+Jkj5Rfd7Xjkmuq5gFwVIM=|XGSUA59mUL9FItaLPVHEOgwK5eo= ${KEY_A}`;

/** The blob a host presents during the handshake (what ssh2's hostVerifier receives). */
const blob = (line: string) => Buffer.from(line.split(' ')[1] ?? '', 'base64');
const check = (lines: string[], host: string, port: number, key: string) =>
  checkHostKey(parseKnownHosts(lines.join('\n')), host, port, blob(key));

const dirs: string[] = [];
function tempHome(files: Record<string, string> = {}): string {
  const home = mkdtempSync(path.join(os.tmpdir(), 'ss-ssh-home-'));
  dirs.push(home);
  mkdirSync(path.join(home, '.ssh'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(home, '.ssh', name), text);
  return home;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A private key file in OpenSSH's format whose cipher is `cipher` ("none" = unencrypted). */
function opensshKey(cipher: string): string {
  const name = Buffer.from(cipher);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), length, name, Buffer.alloc(40)]).toString(
    'base64',
  );
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

const target = (value: string) => {
  const parsed = parseDockerHost(value);
  if (parsed.kind !== 'ssh') throw new Error(`not ssh: ${value}`);
  return parsed;
};

describe('known_hosts matching', () => {
  it('knows a host on port 22 by its bare name and any other port only as [host]:port', () => {
    // given plain entries, names in any case
    const lines = [`Example.ORG ${KEY_A}`, `[example.org]:2222 ${KEY_B}`];
    // then the key of each is known where it is listed, and only there
    expect(check(lines, 'example.org', 22, KEY_A)).toBe('known');
    expect(check(lines, 'example.org', 2222, KEY_B)).toBe('known');
    expect(check(lines, 'example.org', 2222, KEY_A)).toBe('mismatch');
    expect(check(lines, 'example.org', 2200, KEY_A)).toBe('unknown');
    expect(check(lines, 'other.org', 22, KEY_A)).toBe('unknown');
  });

  it('matches hashed entries (ssh-keygen -H) for the bare name and for [host]:port', () => {
    const lines = [HASHED_EXAMPLE_ORG, HASHED_EXAMPLE_ORG_2222];
    expect(check(lines, 'example.org', 22, KEY_A)).toBe('known');
    expect(check(lines, 'example.org', 2222, KEY_A)).toBe('known');
    expect(check(lines, 'example.org', 2222, KEY_B)).toBe('mismatch');
    expect(check(lines, 'example.net', 22, KEY_A)).toBe('unknown');
  });

  it('reads comma lists, * and ? wildcards, and ! negations that win over a match', () => {
    const lines = [`alpha.example.org,*.lab.example.org,!bad.lab.example.org,10.0.0.? ${KEY_A}`];
    expect(check(lines, 'alpha.example.org', 22, KEY_A)).toBe('known');
    expect(check(lines, 'node1.lab.example.org', 22, KEY_A)).toBe('known');
    expect(check(lines, '10.0.0.7', 22, KEY_A)).toBe('known');
    expect(check(lines, '10.0.0.17', 22, KEY_A)).toBe('unknown');
    expect(check(lines, 'bad.lab.example.org', 22, KEY_A)).toBe('unknown');
    // a dot is a dot, not any character
    expect(check(lines, 'alphaXexample.org', 22, KEY_A)).toBe('unknown');
  });

  it('refuses a key marked @revoked even where it is also listed, and ignores @cert-authority', () => {
    const revoked = [`example.org ${KEY_A}`, `@revoked * ${KEY_A}`];
    expect(check(revoked, 'example.org', 22, KEY_A)).toBe('revoked');
    // a CA key is not a host key: this bot does not take host certificates, so the host is unknown
    expect(check([`@cert-authority *.example.org ${KEY_A}`], 'www.example.org', 22, KEY_A)).toBe('unknown');
  });

  it('calls a different key of the same type a mismatch, and a host known only by another type unknown', () => {
    expect(check([`example.org ${KEY_B}`], 'example.org', 22, KEY_A)).toBe('mismatch');
    expect(check([`example.org ${KEY_C}`], 'example.org', 22, KEY_A)).toBe('unknown');
    // and offers the known type first, as ssh does, so the host presents the key that is listed
    const algorithms = hostKeyAlgorithms(parseKnownHosts(`example.org ${KEY_C}`), 'example.org', 22);
    expect(algorithms?.[0]).toBe('ecdsa-sha2-nistp256');
    expect(algorithms).toContain('ssh-ed25519');
    expect(hostKeyAlgorithms([], 'example.org', 22)).toBeUndefined();
  });

  it('skips comments, blank lines, unknown markers and malformed lines, and still reads the rest', () => {
    const text = [
      '# a comment',
      '',
      '   ',
      'example.org', // no key
      `example.org ssh-ed25519 not*base64`,
      `example.org ssh-rsa ${KEY_A.split(' ')[1]}`, // the blob says ed25519
      `@unknown-marker example.org ${KEY_A}`,
      `example.org ${KEY_A} a trailing comment`,
    ].join('\r\n');
    const entries = parseKnownHosts(text);
    expect(entries).toHaveLength(1);
    expect(checkHostKey(entries, 'example.org', 22, blob(KEY_A))).toBe('known');
  });
});

describe('which key the bot logs in with', () => {
  it('takes SPREADSERVE_SSH_KEY first, then the agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa in that order', () => {
    // given a home with an RSA and an ECDSA key, and a key file elsewhere
    const home = tempHome({ id_rsa: opensshKey('none'), id_ecdsa: opensshKey('none') });
    const keyFile = path.join(home, 'deploy_key');
    writeFileSync(keyFile, opensshKey('none'));
    const display = 'ssh://root@example.org:22';

    expect(chooseAuth({ keyFile, agentSocket: '/run/agent.sock' }, display, home)).toMatchObject({
      kind: 'key',
      file: keyFile,
    });
    expect(chooseAuth({ agentSocket: '/run/agent.sock' }, display, home)).toEqual({
      kind: 'agent',
      socket: '/run/agent.sock',
    });
    expect(chooseAuth({}, display, home)).toMatchObject({
      kind: 'key',
      file: path.join(home, '.ssh', 'id_ecdsa'),
    });
    writeFileSync(path.join(home, '.ssh', 'id_ed25519'), opensshKey('none'));
    expect(chooseAuth({}, display, home)).toMatchObject({
      kind: 'key',
      file: path.join(home, '.ssh', 'id_ed25519'),
    });
  });

  it('names a key file that cannot be read, one with a passphrase, and the lack of any key', () => {
    const home = tempHome({ id_ed25519: opensshKey('aes256-ctr') });
    const display = 'ssh://deploy@example.org:2222';
    const missing = path.join(home, 'nope');

    const refusal = (fn: () => unknown): UserError => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(UserError);
        expect((err as UserError).kind).toBe('engine-unreachable');
        return err as UserError;
      }
      throw new Error('expected a refusal');
    };
    expect(refusal(() => chooseAuth({ keyFile: missing }, display, home)).message).toBe(
      `The SSH key file ${missing} for ${display} cannot be read (ENOENT); fix SPREADSERVE_SSH_KEY or the file's permissions.`,
    );
    expect(refusal(() => chooseAuth({}, display, home)).message).toContain(
      `${path.join(home, '.ssh', 'id_ed25519')} for ${display} is protected by a passphrase`,
    );
    expect(refusal(() => chooseAuth({}, display, tempHome())).message).toBe(
      `There is no SSH key to log in to ${display} with; set SPREADSERVE_SSH_KEY to a private key file or SSH_AUTH_SOCK to an ssh-agent.`,
    );
  });

  it('tells encrypted private keys (OpenSSH and PEM) from plain ones', () => {
    expect(isEncryptedKey(opensshKey('none'))).toBe(false);
    expect(isEncryptedKey(opensshKey('aes256-ctr'))).toBe(true);
    expect(isEncryptedKey('-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n')).toBe(true);
    expect(isEncryptedKey('-----BEGIN ENCRYPTED PRIVATE KEY-----\n')).toBe(true);
    expect(isEncryptedKey('-----BEGIN RSA PRIVATE KEY-----\nMIIE\n')).toBe(false);
  });
});

describe('the modem options and the failure sentences', () => {
  it('verifies the host key against the known hosts file at each connection, and says why it refused', () => {
    // given a known_hosts listing key A for [example.org]:2222
    const home = tempHome({ id_ed25519: opensshKey('none'), known_hosts: `[example.org]:2222 ${KEY_A}\n` });
    const knownHosts = path.join(home, '.ssh', 'known_hosts');
    const ssh = target('ssh://deploy@example.org:2222');
    const config = sshConnectConfig(ssh, {}, home);
    const verify = config.hostVerifier as (key: Buffer) => boolean;
    const hostDenied = new Error('Host denied (verification failed)');

    // then a login as deploy with the default key, bounded by the ready timeout
    expect(config).toMatchObject({ host: 'example.org', port: 2222, username: 'deploy' });
    expect(config.readyTimeout).toBe(SSH_READY_TIMEOUT_MS);
    expect(config.authHandler).toEqual([expect.objectContaining({ type: 'publickey', username: 'deploy' })]);
    // the listed key passes, another one is a loud mismatch
    expect(verify(blob(KEY_A))).toBe(true);
    expect(verify(blob(KEY_B))).toBe(false);
    expect(sshFailure(hostDenied, ssh.display)?.message).toBe(
      `WARNING: the SSH host key of ssh://deploy@example.org:2222 does NOT match the one in ${knownHosts} (possible man-in-the-middle attack), so the bot refused to connect; only if the host's admin confirms the new fingerprint, remove the old entry with \`ssh-keygen -R '[example.org]:2222' -f ${knownHosts}\` and add the new one.`,
    );
    // and once the file no longer lists the host, the refusal names ssh-keyscan
    writeFileSync(knownHosts, `# emptied\n`);
    expect(verify(blob(KEY_A))).toBe(false);
    expect(sshFailure(hostDenied, ssh.display)?.message).toBe(
      `The SSH host key of ssh://deploy@example.org:2222 is not in ${knownHosts}, so the bot refused to connect; check its fingerprint with the host's admin, then add it with \`ssh-keyscan -p 2222 example.org >> ${knownHosts}\`.`,
    );
  });

  it('logs in as the local user when DOCKER_HOST names none, as ssh does', () => {
    const home = tempHome();
    const config = sshConnectConfig(target('ssh://example.org'), { agentSocket: '/run/agent.sock' }, home);
    expect(config.username).toBe(os.userInfo().username);
    expect(config.port).toBe(22);
    expect(config.authHandler).toEqual([
      { type: 'agent', username: os.userInfo().username, agent: '/run/agent.sock' },
    ]);
  });

  it("gives the modem plain HTTP over a keep-alive agent of its own, not docker-modem's SSH transport", () => {
    // given a host with a default key (nothing connects: the agent logs in at the first request)
    const home = tempHome({ id_ed25519: opensshKey('none') });
    const options = sshModemOptions(target('ssh://deploy@example.org:2222'), {}, home);
    // then the modem speaks HTTP to host:port through an agent that keeps connections
    expect(options).toMatchObject({ host: 'example.org', port: 2222, protocol: 'http' });
    expect(options.agent).toBeInstanceOf(http.Agent);
    expect((options.agent as http.Agent & { keepAlive: boolean }).keepAlive).toBe(true);
    expect(options.agent.maxSockets).toBe(SSH_MAX_CHANNELS);
  });

  it('turns ssh2 failures into one sentence naming the host, and leaves the rest alone', () => {
    const display = 'ssh://root@example.org:22';
    const withLevel = (message: string, level: string) => Object.assign(new Error(message), { level });
    const hangUp = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

    expect(
      sshFailure(withLevel('All configured authentication methods failed', 'client-authentication'), display)
        ?.message,
    ).toBe(
      `The SSH login to ${display} was refused: the host accepts none of the bot's keys; add the bot's public key to that user's ~/.ssh/authorized_keys on the host, or set SPREADSERVE_SSH_KEY to a key it accepts.`,
    );
    expect(
      sshFailure(withLevel('Timed out while waiting for handshake', 'client-timeout'), display)?.message,
    ).toBe(
      `The SSH host ${display} did not complete the handshake within 8 s; check that sshd runs on that port and that no firewall drops the connection.`,
    );
    expect(sshFailure(withLevel('Failed to connect to agent', 'agent'), display)?.message).toContain(
      `The ssh-agent at SSH_AUTH_SOCK could not sign the login to ${display}`,
    );
    expect(sshFailure(hangUp, display)?.message).toContain(
      `The SSH host ${display} ran \`docker system dial-stdio\` but it ended without an answer`,
    );
    expect(sshFailure(hangUp, display)?.kind).toBe('engine-unreachable');
    // a refused TCP connection is the generic sentence's job; other engines are not SSH's
    expect(sshFailure(refused, display)).toBeUndefined();
    expect(sshFailure(hangUp, 'tcp://example.org:2376')).toBeUndefined();
  });
});
