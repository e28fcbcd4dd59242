// Told after, too, in a terminal (cli/notifier.ts): a reclaimed instance's notice is one printed
// line (on stderr in the local shell and the CLI) with the command that launches it again.
import { describe, expect, it } from 'vitest';
import { ConsoleNotifier } from '../../cli/notifier.ts';
import type { ReclaimedNotice } from '../../core/notifier.ts';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const MIN = 60_000;

const notice: ReclaimedNotice = {
  instance: 'my-sheet',
  owner: 'cli:bob',
  template: 'demo',
  port: 8082,
  url: 'http://127.0.0.1:8082',
  reason: 'idle',
  warnedAt: NOW - 15 * MIN,
  reclaimedAt: NOW,
  evidence: {
    reason: 'idle',
    lastActivityAt: NOW - 130 * MIN,
    txSinceActivity: 2048,
    rxSinceActivity: 900,
    floorBytes: 16384,
    createdAt: NOW - 190 * MIN,
    text: 'no use for 2h10m, sent 2 KiB (floor 16 KiB/check)',
  },
};

describe('the terminal notice after a reclaim', () => {
  it('prints one line: what, whose, why, how long it ran, the evidence and the launch command', async () => {
    // given a console notifier writing into a buffer
    const written: string[] = [];
    const notifier = new ConsoleNotifier((text) => written.push(text));
    // when it is told a reclaim happened
    const told = await notifier.tellReclaimed(notice);
    // then one line says it, with the command to launch it again, and it counts as delivered
    expect(written).toEqual([
      'Reclaimed my-sheet of cli:bob (idle) after it ran 3h10m: no use for 2h10m, sent 2 KiB ' +
        '(floor 16 KiB/check). Launch it again: `launch demo --name my-sheet`.\n',
    ]);
    expect(told).toEqual({ delivered: true, detail: 'printed in the terminal' });
  });

  it('says "time limit" for an instance past its time limit', async () => {
    const written: string[] = [];
    await new ConsoleNotifier((text) => written.push(text)).tellReclaimed({ ...notice, reason: 'ttl' });
    expect(written[0]).toMatch(/^Reclaimed my-sheet of cli:bob \(time limit\)/);
  });
});
