/**
 * When to recompute a derived view (the per-kind breakdown of a process, the
 * call-site table of a session): only when what it shows changed (its key),
 * and, while one computation costs more than 2 ms, at most once a second, so
 * that a big map does not spend every frame on it.
 */
export class Refresh {
  private key = '';
  private at = 0;
  private cost = 0;

  /** True when the view must be recomputed for key now (force skips the
   * once-a-second limit); key then counts as shown. */
  due(key: string, force = false): boolean {
    if (key === this.key) return false;
    const now = performance.now();
    if (!force && this.key !== '' && this.cost > 2 && now - this.at < 1000) return false;
    this.key = key;
    this.at = now;
    return true;
  }

  /** Records what the computation begun by the last due() cost. */
  measured(): void {
    this.cost = performance.now() - this.at;
  }

  /** Forgets the key shown: the next due() is true. */
  reset(): void {
    this.key = '';
  }
}
