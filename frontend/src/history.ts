/*
 * history — a bounded RSS-over-time series for one process or session.
 *
 * Points are (ts, rss) with ts in nanoseconds since the session began. When
 * the series reaches its capacity the older half is thinned to every other
 * point, so memory stays bounded while the whole time span stays visible and
 * recent points keep full resolution.
 */
export const HISTORY_CAPACITY = 2048;

export class RssHistory {
  ts: number[] = [];
  rss: number[] = [];
  /** Bumped on every change, for views that cache what they drew. */
  version = 0;

  constructor(private readonly capacity = HISTORY_CAPACITY) {}

  /** Builds a series from the snapshot's flat [ts0, rss0, ts1, rss1, ...]. */
  static fromFlat(flat: readonly number[], capacity = HISTORY_CAPACITY): RssHistory {
    const h = new RssHistory(capacity);
    for (let i = 0; i + 1 < flat.length; i += 2) h.push(flat[i]!, flat[i + 1]!);
    return h;
  }

  get length(): number {
    return this.ts.length;
  }

  get lastRss(): number | undefined {
    return this.rss[this.rss.length - 1];
  }

  /**
   * Appends a point. A point older than the last one is clamped to the last
   * timestamp (events are ordered, but a resync may restate the past). A point
   * at the same timestamp replaces the last one; an unchanged value is skipped
   * unless it is the first after a gap (keeping the step shape of the chart).
   */
  push(ts: number, rss: number): void {
    const n = this.ts.length;
    if (n > 0) {
      const lastTs = this.ts[n - 1]!;
      if (ts < lastTs) ts = lastTs;
      if (ts === lastTs) {
        if (this.rss[n - 1] !== rss) {
          this.rss[n - 1] = rss;
          this.version++;
        }
        return;
      }
      if (this.rss[n - 1] === rss && n >= 2 && this.rss[n - 2] === rss) {
        this.ts[n - 1] = ts; // extend a flat stretch instead of adding points
        this.version++;
        return;
      }
    }
    this.ts.push(ts);
    this.rss.push(rss);
    if (this.ts.length > this.capacity) this.thin();
    this.version++;
  }

  /** Drops every other point from the older half. */
  private thin(): void {
    const half = this.ts.length >> 1;
    const ts: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < half; i += 2) {
      ts.push(this.ts[i]!);
      rss.push(this.rss[i]!);
    }
    this.ts = ts.concat(this.ts.slice(half));
    this.rss = rss.concat(this.rss.slice(half));
  }
}
