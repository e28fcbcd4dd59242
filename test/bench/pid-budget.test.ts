// The scale suite refuses, before its hour-long fill, a host whose kernel.pid_max cannot hold the
// run's threads (bench/scale.ts): a run at 2000 died near 1550 containers at the default 32768.
import { describe, expect, it } from 'vitest';
import { pidBudgetError } from '../../bench/scale-host.ts';

describe('the scale suite’s pid budget', () => {
  it('lets the runs this machine held go: 1400 at the default pid_max', () => {
    expect(pidBudgetError(1400, '32768')).toBeNull();
    expect(pidBudgetError(2000, '65536')).toBeNull();
  });

  it('refuses 2000 at the default pid_max in one sentence that says how to raise it', () => {
    const refusal = pidBudgetError(2000, '32768');
    expect(refusal).toBe(
      "This host's kernel.pid_max is 32768, and 2000 instances need about 44000 threads (20 a container: its containerd-shim and docker-proxy); raise it first, for example `sysctl -w kernel.pid_max=65536`.",
    );
  });

  it('says nothing when pid_max cannot be read', () => {
    expect(pidBudgetError(2500, null)).toBeNull();
    expect(pidBudgetError(2500, 'garbage')).toBeNull();
  });
});
