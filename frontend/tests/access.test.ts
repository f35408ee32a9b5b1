import { describe, expect, it } from 'vitest';
import { checkAccess, takeToken } from '../src/access';
import { emptyStateFor, bannerFor, type StatusInput } from '../src/status';

describe('takeToken', () => {
  it('takes the token out of the address bar and keeps the rest', () => {
    const calls: string[] = [];
    const t = takeToken({ pathname: '/', search: '?token=abc&session=2', hash: '#x' }, { replaceState: (_d, _t, u) => void calls.push(String(u)) });
    expect(t).toBe('abc');
    expect(calls).toEqual(['/?session=2#x']);
  });
  it('leaves a URL without token alone', () => {
    const calls: string[] = [];
    expect(takeToken({ pathname: '/', search: '?session=2', hash: '' }, { replaceState: () => void calls.push('x') })).toBeNull();
    expect(calls).toEqual([]);
  });
});

function fakeFetch(status: number, body: string, seen: RequestInit[] = []): typeof fetch {
  return (async (_u: unknown, init?: RequestInit) => {
    seen.push(init ?? {});
    return new Response(body, { status });
  }) as typeof fetch;
}

describe('checkAccess', () => {
  it('sends the token as a bearer and is quiet when admitted', async () => {
    const seen: RequestInit[] = [];
    expect(await checkAccess('abc', fakeFetch(200, '{"access":"token"}', seen))).toBeNull();
    expect((seen[0]!.headers as Record<string, string>).authorization).toBe('Bearer abc');
    expect(seen[0]!.method).toBe('POST');
  });
  it("returns mevid's sentence on 401 and 403", async () => {
    expect(await checkAccess(null, fakeFetch(401, '{"error":"this mevid belongs to uid 0: open the URL"}'))).toEqual({
      status: 401,
      message: 'this mevid belongs to uid 0: open the URL',
    });
    expect((await checkAccess(null, fakeFetch(403, 'nope')))?.status).toBe(403);
  });
  it('is quiet when mevid cannot be reached (no daemon)', async () => {
    const failing = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    expect(await checkAccess(null, failing)).toBeNull();
  });
});

describe('the page tells the truth when refused', () => {
  const base: StatusInput = {
    link: 'offline',
    everConnected: false,
    retryInMs: 1000,
    lastLiveAt: 0,
    url: 'ws://127.0.0.1:5001/stream',
    paused: false,
    queued: 0,
    queueOverflow: false,
    errors: 0,
    lastError: null,
    hasData: false,
    sessions: 0,
    selectedSession: null,
    selectedKnown: false,
  };
  it('says mevid wants its token instead of "No daemon"', () => {
    const e = emptyStateFor({ ...base, refusal: { status: 401, message: 'open the URL it printed (/?token=...)' } });
    expect(e?.title).toBe('mevid wants its token');
    expect(e?.detail).toContain('/?token=');
  });
  it('keeps saying so while the page tries again', () => {
    const refusal = { status: 401, message: 'open the URL it printed (/?token=...)' };
    expect(emptyStateFor({ ...base, link: 'connecting', refusal })?.title).toBe('mevid wants its token');
  });
  it('says refused on 403', () => {
    expect(emptyStateFor({ ...base, refusal: { status: 403, message: 'forbidden origin' } })?.title).toBe('Refused by mevid');
    expect(bannerFor({ ...base, everConnected: true, hasData: true, sessions: 1, refusal: { status: 403, message: 'wrong token' } })?.text).toContain('wrong token');
  });
  it('still says No daemon when nothing answers', () => {
    expect(emptyStateFor(base)?.title).toBe('No daemon');
  });
});
