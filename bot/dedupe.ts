// Slack may deliver the same slash command or button press twice; each carries a unique
// trigger_id. Remember recent ones so a retry does not act twice.
export class RecentIds {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly ttlMs = 30 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** True the first time an id is seen within the window. */
  firstTime(id: string): boolean {
    const now = this.now();
    for (const [key, at] of this.seen) {
      if (now - at < this.ttlMs) break; // insertion order: the rest are newer
      this.seen.delete(key);
    }
    if (this.seen.has(id)) return false;
    this.seen.set(id, now);
    return true;
  }
}
