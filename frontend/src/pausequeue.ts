/*
 * pausequeue — holds /stream messages back while the view is paused.
 *
 * Memory stays bounded: past `limit` bytes the queue is dropped and marked
 * overflowed, and resuming then asks for a fresh snapshot instead of
 * replaying (a snapshot replaces everything, so nothing is lost but history
 * points).
 */
export class PauseQueue {
  paused = false;
  private items: ArrayBuffer[] = [];
  private bytes = 0;
  private overflowed = false;

  constructor(private readonly limit: number) {}

  /** Messages waiting (0 after an overflow). */
  get length(): number {
    return this.items.length;
  }

  get overflow(): boolean {
    return this.overflowed;
  }

  /** Takes the message while paused and returns true; returns false when it should be applied now. */
  offer(data: ArrayBuffer): boolean {
    if (!this.paused) return false;
    if (this.overflowed) return true;
    this.items.push(data);
    this.bytes += data.byteLength;
    if (this.bytes > this.limit) {
      this.items = [];
      this.bytes = 0;
      this.overflowed = true;
    }
    return true;
  }

  /** Unpauses. Returns the messages to apply in order, or resync: true when they were dropped. */
  resume(): { messages: ArrayBuffer[]; resync: boolean } {
    const out = { messages: this.items, resync: this.overflowed };
    this.paused = false;
    this.items = [];
    this.bytes = 0;
    this.overflowed = false;
    return out;
  }
}
