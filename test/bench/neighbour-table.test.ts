// The scale suite logs each rise of the kernel's neighbour table overflow counter during its fill
// and URL sweep (bench/scale-host.ts): the counter must read on this host.
import { describe, expect, it } from 'vitest';
import { neighbourFullsSince, neighbourTableFulls } from '../../bench/scale-host.ts';

describe('the neighbour table’s overflow counter', () => {
  it('reads on this host (Linux), and counts from a start', () => {
    expect(neighbourTableFulls()).toBeGreaterThanOrEqual(0);
    expect(neighbourFullsSince()()).toBeGreaterThanOrEqual(0);
  });
});
