/*
 * seek — keeps at most one websocket seek in flight (PROTOCOL.md section 6:
 * "a viewer that scrubs should keep one seek in flight at a time").
 *
 * While a request is out, newer requests replace each other: only the latest
 * is sent once the answer arrives, so dragging the playhead across a long
 * session costs one round trip per answer, not one per mouse move. An answer
 * that never comes (the connection dropped) frees the slot after a timeout.
 */

export interface SeekTarget {
  session: number;
  at: number;
}

export class SeekCoalescer {
  private inFlight: (SeekTarget & { sentAt: number }) | null = null;
  private pending: SeekTarget | null = null;
  /** Requests sent to mevid so far (for tests and the status line). */
  sent = 0;

  constructor(
    /** Sends one request; false when it could not be sent (not connected). */
    private readonly send: (t: SeekTarget) => boolean,
    private readonly now: () => number = () => performance.now(),
    private readonly timeoutMs = 3000,
  ) {}

  /** Asks for the state of `session` at `at`; sent now or after the current answer. */
  request(session: number, at: number): void {
    const t = { session, at: Math.max(0, Math.round(at)) };
    if (this.inFlight && this.now() - this.inFlight.sentAt > this.timeoutMs) this.inFlight = null;
    if (this.inFlight) {
      if (this.inFlight.session === t.session && this.inFlight.at === t.at) this.pending = null;
      else this.pending = t;
      return;
    }
    this.pending = null;
    this.transmit(t);
  }

  /** An answer arrived: frees the slot and sends the latest waiting request. */
  answered(): void {
    this.inFlight = null;
    const next = this.pending;
    this.pending = null;
    if (next) this.transmit(next);
  }

  /** The connection was replaced: nothing is in flight any more. Returns what was wanted last. */
  reset(): SeekTarget | null {
    const last = this.pending ?? this.inFlight;
    this.inFlight = null;
    this.pending = null;
    return last ? { session: last.session, at: last.at } : null;
  }

  get busy(): boolean {
    return this.inFlight !== null;
  }

  get waiting(): SeekTarget | null {
    return this.pending;
  }

  private transmit(t: SeekTarget): void {
    if (this.send(t)) {
      this.sent++;
      this.inFlight = { ...t, sentAt: this.now() };
    } else {
      // Not connected: remember it; reset() hands it back on reconnect.
      this.pending = t;
    }
  }
}

/** The JSON text of a seek request. */
export function seekRequest(t: SeekTarget): string {
  return JSON.stringify({ type: 'seek', session: t.session, at: t.at });
}
