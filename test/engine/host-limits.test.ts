// The Docker host's kernel limits (engine/host-limits.ts): the scale suite refuses, before its
// hour-long fill, a host whose kernel cannot hold the run (a run at 2000 died near 1550 containers
// at the default kernel.pid_max, and runs at 1400 and 2000 lost 12% of their URL sweeps to a full
// neighbour table), and `status` warns when the running instances come near either limit.
import { describe, expect, it } from 'vitest';
import { hostLimitError, hostLimitWarnings, readSetting } from '../../engine/host-limits.ts';

const host =
  (settings: Record<string, string>) =>
  (setting: string): string | null =>
    Object.hasOwn(settings, setting) ? (settings[setting] ?? null) : null;
const defaults = { 'kernel.pid_max': '32768', 'net.ipv4.neigh.default.gc_thresh3': '1024' };
const raised = { 'kernel.pid_max': '65536', 'net.ipv4.neigh.default.gc_thresh3': '10000' };

describe('the scale suite’s refusal', () => {
  it('lets a run go that the host holds', () => {
    expect(hostLimitError(400, host(defaults))).toBeNull();
    expect(hostLimitError(2000, host(raised))).toBeNull();
  });

  it('refuses 2000 at the default pid_max in one sentence that says how to raise it', () => {
    expect(hostLimitError(2000, host({ ...raised, 'kernel.pid_max': '32768' }))).toBe(
      "This host's kernel.pid_max is 32768, and 2000 instances need about 44000 threads (20 a container: its containerd-shim and docker-proxy); raise it first, for example `sysctl -w kernel.pid_max=65536`.",
    );
  });

  it('refuses 1000 at the default neighbour table, naming both thresholds to raise', () => {
    expect(hostLimitError(1000, host(defaults))).toBe(
      "This host's net.ipv4.neigh.default.gc_thresh3 is 1024, and 1000 instances need about 3000 neighbour entries when all are asked at once (2 a container: the host’s for it and its own for its gateway); raise it first, for example `sysctl -w net.ipv4.neigh.default.gc_thresh2=3000 net.ipv4.neigh.default.gc_thresh3=6000`.",
    );
  });

  it('says nothing of a setting it cannot read', () => {
    expect(hostLimitError(2500, host({}))).toBeNull();
    expect(
      hostLimitError(2500, host({ 'kernel.pid_max': 'garbage', 'net.ipv4.neigh.default.gc_thresh3': '' })),
    ).toBeNull();
  });
});

describe('the warnings of `status`', () => {
  it('says nothing while the running instances are well within what the host holds', () => {
    // the default neighbour table holds about 465 (1024 / 2.2): 371 is below 80% of it
    expect(hostLimitWarnings(371, 1000, host(defaults))).toEqual([]);
    expect(hostLimitWarnings(1500, 2000, host(raised))).toEqual([]);
  });

  it('names the setting near its limit, and raises it for the whole pool', () => {
    expect(hostLimitWarnings(372, 1000, host(defaults))).toEqual([
      'This host runs 372 instances, and its net.ipv4.neigh.default.gc_thresh3 of 1024 holds about 465 (2 neighbour entries each, when all are asked at once); raise it, for example `sysctl -w net.ipv4.neigh.default.gc_thresh2=3000 net.ipv4.neigh.default.gc_thresh3=6000`.',
    ]);
  });

  it('names both when both are near, each raised for the running count past the pool', () => {
    const warnings = hostLimitWarnings(1400, 1000, host(defaults));
    expect(warnings).toEqual([
      'This host runs 1400 instances, and its kernel.pid_max of 32768 holds about 1489 (20 threads each); raise it, for example `sysctl -w kernel.pid_max=65536`.',
      'This host runs 1400 instances, and its net.ipv4.neigh.default.gc_thresh3 of 1024 holds about 465 (2 neighbour entries each, when all are asked at once); raise it, for example `sysctl -w net.ipv4.neigh.default.gc_thresh2=4000 net.ipv4.neigh.default.gc_thresh3=8000`.',
    ]);
  });

  it('says nothing of a setting it cannot read (not Linux, another namespace)', () => {
    expect(hostLimitWarnings(5000, 5000, host({}))).toEqual([]);
  });
});

describe('readSetting', () => {
  it('reads this host’s settings (Linux), and null for one that does not exist', () => {
    expect(Number(readSetting('kernel.pid_max'))).toBeGreaterThan(0);
    expect(Number(readSetting('net.ipv4.neigh.default.gc_thresh3'))).toBeGreaterThan(0);
    expect(readSetting('kernel.no_such_setting')).toBeNull();
  });
});
