import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffMs, Connection, streamUrl, type LinkStatus, type SocketLike } from '../src/connection';

describe('stream URL', () => {
  it('derives ws(s)://host/stream from the page location', () => {
    expect(streamUrl({ protocol: 'http:', host: '127.0.0.1:5001', pathname: '/' })).toBe('ws://127.0.0.1:5001/stream');
    expect(streamUrl({ protocol: 'https:', host: 'box:8443', pathname: '/index.html' })).toBe('wss://box:8443/stream');
    expect(streamUrl({ protocol: 'http:', host: 'h', pathname: '/mevi/' })).toBe('ws://h/mevi/stream');
  });
  it('backs off from 250 ms to 5 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(backoffMs)).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });
});

class FakeSocket implements SocketLike {
  binaryType: BinaryType = 'blob';
  onopen: ((ev: Event) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  closed = false;
  close(): void {
    this.closed = true;
  }
  open(): void {
    this.onopen?.(new Event('open'));
  }
  drop(): void {
    this.onclose?.({} as CloseEvent);
  }
  send(data: ArrayBuffer): void {
    this.onmessage?.({ data } as MessageEvent);
  }
}

describe('Connection', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reports status, delivers binary frames, and reconnects with backoff', () => {
    const sockets: FakeSocket[] = [];
    const statuses: LinkStatus[] = [];
    const frames: number[] = [];
    const c = new Connection(
      'ws://x/stream',
      { onMessage: (d) => frames.push(d.byteLength), onStatus: (s) => statuses.push(s) },
      () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s;
      },
    );
    c.start();
    expect(sockets[0]!.binaryType).toBe('arraybuffer');
    sockets[0]!.open();
    sockets[0]!.send(new ArrayBuffer(3));
    expect(frames).toEqual([3]);
    sockets[0]!.drop();
    expect(statuses).toEqual(['connecting', 'live', 'offline']);
    vi.advanceTimersByTime(249);
    expect(sockets.length).toBe(1);
    vi.advanceTimersByTime(1);
    expect(sockets.length).toBe(2);
    sockets[1]!.drop(); // second failure: 500 ms
    vi.advanceTimersByTime(499);
    expect(sockets.length).toBe(2);
    vi.advanceTimersByTime(1);
    expect(sockets.length).toBe(3);
    sockets[2]!.open(); // success resets the backoff
    sockets[2]!.drop();
    vi.advanceTimersByTime(250);
    expect(sockets.length).toBe(4);
    // A stale socket's events are ignored.
    sockets[0]!.send(new ArrayBuffer(9));
    expect(frames).toEqual([3]);
    c.stop();
    expect(sockets[3]!.closed).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(sockets.length).toBe(4);
  });
});
