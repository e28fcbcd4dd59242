// Helpers for tests against the real Docker engine. They use the docker CLI, not engine/docker.ts,
// so cleanup does not depend on the code under test. Tests FAIL when Docker is missing: no skips.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { LABEL } from '../../core/labels.ts';
import type { Labels } from '../../engine/types.ts';

const run = promisify(execFile);

export const BASE_IMAGE = 'spreadserve/base:busybox';

async function docker(args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

const labelFilters = (labels: Labels): string[] =>
  Object.entries(labels).flatMap(([k, v]) => ['--filter', `label=${k}=${v}`]);

/** Throws a loud error unless the engine answers and the base image is built. */
export async function requireDocker(): Promise<void> {
  try {
    await docker(['info', '--format', '{{.ServerVersion}}']);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(
      `These tests need a running Docker engine and it does not answer: run \`bash scripts/docker-up.sh\` first.\n${detail}`,
    );
  }
  try {
    await docker(['image', 'inspect', BASE_IMAGE, '--format', '{{.Id}}']);
  } catch {
    throw new Error(`The base image ${BASE_IMAGE} is missing: run \`bash scripts/docker-up.sh\` first.`);
  }
}

/** Force-removes every container carrying all the given labels, then the networks carrying them
 * (a scope's own bridge network); returns how many containers. */
export async function removeByLabel(labels: Labels): Promise<number> {
  const ids = (await docker(['ps', '-aq', ...labelFilters(labels)])).split('\n').filter(Boolean);
  if (ids.length > 0) await docker(['rm', '-f', ...ids]);
  const networks = (await docker(['network', 'ls', '-q', ...labelFilters(labels)]))
    .split('\n')
    .filter(Boolean);
  // One still in use (a container of another test in the scope) stays; its test removes it.
  for (const id of networks) await docker(['network', 'rm', id]).catch(() => '');
  return ids.length;
}

/** Force-removes every image carrying all the given labels (after their containers are gone). */
export async function removeImagesByLabel(labels: Labels): Promise<number> {
  const ids = [
    ...new Set((await docker(['images', '-q', ...labelFilters(labels)])).split('\n').filter(Boolean)),
  ];
  if (ids.length > 0) await docker(['rmi', '-f', ...ids]).catch(() => '');
  return ids.length;
}

/** Removes image tags; missing ones are fine. */
export async function removeImages(...tags: string[]): Promise<void> {
  for (const tag of tags) await docker(['rmi', '-f', tag]).catch(() => '');
}

/** A tag no other run uses, e.g. spreadserve-test/demo:t3f9a1c2e. */
export function freshTag(prefix: string): string {
  return `${prefix}:t${randomBytes(4).toString('hex')}`;
}

/** The status code and body of a real HTTP GET, or null when nothing answered. */
export async function httpGet(
  url: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

/** Polls with real HTTP GETs (a TCP connect succeeds before the server listens) until a 200. */
export async function waitForHttp200(
  url: string,
  { tries = 100, intervalMs = 100, deadlineMs = 10_000 } = {},
): Promise<string> {
  const deadline = Date.now() + deadlineMs;
  let last = 'no answer';
  for (let i = 0; i < tries && Date.now() < deadline; i++) {
    const res = await httpGet(url, 1000);
    if (res?.status === 200) return res.body;
    if (res) last = `HTTP ${res.status}`;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${url} did not answer 200 (last: ${last})`);
}

/** The docker CLI, synchronously, for short checks inside a test. */
export const dockerSync = (...args: string[]): string =>
  execFileSync('docker', args, { encoding: 'utf8' }).trim();

/** Ids of a scope's containers (of one instance, when named); only running ones with `running`. */
export function scopeContainers(
  scope: string,
  options: { instance?: string; running?: boolean } = {},
): string[] {
  const filters = labelFilters({
    [LABEL.scope]: scope,
    ...(options.instance ? { [LABEL.instance]: options.instance } : {}),
  });
  return dockerSync('ps', options.running ? '-q' : '-aq', ...filters)
    .split('\n')
    .filter(Boolean);
}
