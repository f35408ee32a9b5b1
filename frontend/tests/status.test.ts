import { describe, expect, it } from 'vitest';
import { bannerFor, emptyStateFor, type StatusInput } from '../src/status';
import { PauseQueue } from '../src/pausequeue';

const base: StatusInput = {
  link: 'live',
  everConnected: true,
  retryInMs: null,
  lastLiveAt: Date.now(),
  url: 'ws://127.0.0.1:5001/stream',
  paused: false,
  queued: 0,
  queueOverflow: false,
  errors: 0,
  lastError: null,
  hasData: true,
  sessions: 1,
  selectedSession: null,
  selectedKnown: false,
};

describe('empty states', () => {
  it('says there is no daemon when it never answered', () => {
    const e = emptyStateFor({ ...base, link: 'offline', everConnected: false, hasData: false, sessions: 0 });
    expect(e?.title).toBe('No daemon');
    expect(e?.detail).toContain('ws://127.0.0.1:5001/stream');
  });
  it('says it is connecting before the first answer', () => {
    expect(emptyStateFor({ ...base, link: 'connecting', everConnected: false, hasData: false, sessions: 0 })?.title).toBe('Connecting…');
  });
  it('says how to start a session when there is none', () => {
    const e = emptyStateFor({ ...base, sessions: 0 });
    expect(e?.title).toBe('No sessions yet');
    expect(e?.detail).toContain('`mevi-run PROGRAM [ARGS...]`');
  });
  it('says when the session in the URL is unknown', () => {
    expect(emptyStateFor({ ...base, selectedSession: 9, selectedKnown: false })?.title).toBe('Session #9 is not known to mevid');
    expect(emptyStateFor({ ...base, selectedSession: 1, selectedKnown: true })).toBeNull();
  });
  it('keeps showing data when the daemon goes away later', () => {
    expect(emptyStateFor({ ...base, link: 'offline' })).toBeNull();
  });
});

describe('banner', () => {
  it('offline (after having been live) wins, with the retry time', () => {
    const b = bannerFor({ ...base, link: 'offline', retryInMs: 2000, paused: true, lastError: 'x', errors: 1 });
    expect(b?.kind).toBe('offline');
    expect(b?.text).toMatch(/showing the last state received\. Retrying in 2\.0 s\.$/);
  });
  it('paused, with the count or the overflow', () => {
    expect(bannerFor({ ...base, paused: true, queued: 3 })?.text).toContain('3 updates waiting');
    expect(bannerFor({ ...base, paused: true, queued: 1 })?.text).toContain('1 update waiting');
    expect(bannerFor({ ...base, paused: true, queueOverflow: true })?.text).toContain('fresh snapshot');
  });
  it('warns about updates that could not be applied', () => {
    expect(bannerFor({ ...base, errors: 2, lastError: 'boom' })).toEqual({ kind: 'warning', text: 'Warning: 2 updates could not be applied (last: boom).' });
    expect(bannerFor(base)).toBeNull();
  });
});

describe('PauseQueue', () => {
  it('passes messages through unless paused, then replays them in order', () => {
    const q = new PauseQueue(100);
    const a = new ArrayBuffer(10);
    const b = new ArrayBuffer(20);
    expect(q.offer(a)).toBe(false);
    q.paused = true;
    expect(q.offer(a)).toBe(true);
    expect(q.offer(b)).toBe(true);
    expect(q.length).toBe(2);
    const r = q.resume();
    expect(r.resync).toBe(false);
    expect(r.messages).toEqual([a, b]);
    expect(q.paused).toBe(false);
    expect(q.length).toBe(0);
  });
  it('drops everything past its limit and asks for a snapshot on resume', () => {
    const q = new PauseQueue(25);
    q.paused = true;
    q.offer(new ArrayBuffer(10));
    q.offer(new ArrayBuffer(20));
    expect(q.overflow).toBe(true);
    expect(q.length).toBe(0);
    expect(q.offer(new ArrayBuffer(1))).toBe(true); // still held back (dropped)
    expect(q.resume()).toEqual({ messages: [], resync: true });
    expect(q.overflow).toBe(false);
  });
});
