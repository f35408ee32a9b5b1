/*
 * connection — the /stream websocket: derives its URL from the page's
 * location, reconnects with exponential backoff, and reports its status.
 */

export type LinkStatus = 'connecting' | 'live' | 'offline';

export interface ConnectionHandlers {
  onMessage(data: ArrayBuffer): void;
  onStatus(status: LinkStatus, detail: { attempt: number; retryInMs: number | null; everConnected: boolean }): void;
}

/** ws(s)://<host>/stream next to the page: same host and port, path-prefix aware. */
export function streamUrl(loc: Pick<Location, 'protocol' | 'host' | 'pathname'>): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  const dir = loc.pathname.replace(/[^/]*$/, ''); // strip "index.html"
  return `${scheme}//${loc.host}${dir}stream`;
}

/** Backoff after `attempt` consecutive failures: 250 ms doubling to 5 s. */
export function backoffMs(attempt: number): number {
  return Math.min(5000, 250 * 2 ** Math.max(0, attempt - 1));
}

/** Minimal WebSocket surface, so tests can substitute a fake. */
export interface SocketLike {
  binaryType: BinaryType;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  close(): void;
}

export class Connection {
  private ws: SocketLike | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private everConnected = false;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly handlers: ConnectionHandlers,
    private readonly makeSocket: (url: string) => SocketLike = (u) => new WebSocket(u),
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close();
  }

  /** Sends a text frame (a JSON request); false when not connected. */
  send(text: string): boolean {
    const ws = this.ws as (SocketLike & { send?: (d: string) => void }) | null;
    if (!ws || !this.open_ || typeof ws.send !== 'function') return false;
    try {
      ws.send(text);
    } catch {
      return false;
    }
    return true;
  }

  private open_ = false;

  /** Drops the connection and reconnects at once (a fresh snapshot follows). */
  resync(): void {
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    this.attempt = 0;
    this.open();
  }

  private open(): void {
    if (this.stopped) return;
    this.handlers.onStatus('connecting', { attempt: this.attempt, retryInMs: null, everConnected: this.everConnected });
    let ws: SocketLike;
    try {
      ws = this.makeSocket(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.open_ = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.open_ = true;
      this.attempt = 0;
      this.everConnected = true;
      this.handlers.onStatus('live', { attempt: 0, retryInMs: null, everConnected: true });
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      if (ev.data instanceof ArrayBuffer) this.handlers.onMessage(ev.data);
    };
    ws.onerror = () => undefined; // onclose follows and carries the decision
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.scheduleRetry();
    };
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.attempt++;
    const wait = backoffMs(this.attempt);
    this.handlers.onStatus('offline', { attempt: this.attempt, retryInMs: wait, everConnected: this.everConnected });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, wait);
  }
}
