import { describe, expect, it } from 'vitest';
import { SeekCoalescer, seekRequest, type SeekTarget } from '../src/seek';
import { TimeScale, advance, curveAt, formatTs, markersNear, mergeCurve, modeLabel, parseTimeline, stepSpeed } from '../src/timeline';
import { diffRanges, diffStates, diffTotals, flatFromJson } from '../src/diff';
import { parseViewState, serializeViewState } from '../src/urlstate';
import { errorFromBody, uploadRecording } from '../src/upload';
import { encodeWire, decodeServerMessage, peekKind } from '../src/protocol';
import { keyAction } from '../src/keyboard';

const MiB = 1 << 20;

describe('SeekCoalescer', () => {
  it('keeps one seek in flight and sends only the latest waiting one', () => {
    const sent: SeekTarget[] = [];
    const c = new SeekCoalescer((t) => (sent.push(t), true), () => 0);
    c.request(1, 100);
    c.request(1, 200);
    c.request(1, 300);
    c.request(1, 400);
    expect(sent).toEqual([{ session: 1, at: 100 }]);
    expect(c.waiting).toEqual({ session: 1, at: 400 });
    c.answered();
    expect(sent).toEqual([{ session: 1, at: 100 }, { session: 1, at: 400 }]);
    c.answered();
    expect(c.busy).toBe(false);
    expect(sent.length).toBe(2);
  });
  it('drops a waiting request equal to the one in flight', () => {
    const sent: SeekTarget[] = [];
    const c = new SeekCoalescer((t) => (sent.push(t), true), () => 0);
    c.request(1, 100);
    c.request(1, 200);
    c.request(1, 100);
    c.answered();
    expect(sent.length).toBe(1);
  });
  it('frees the slot after the timeout and keeps requests made while disconnected', () => {
    let now = 0;
    let up = false;
    const sent: SeekTarget[] = [];
    const c = new SeekCoalescer((t) => (up ? (sent.push(t), true) : false), () => now, 1000);
    c.request(2, 5);
    expect(sent).toEqual([]);
    expect(c.reset()).toEqual({ session: 2, at: 5 });
    up = true;
    c.request(2, 6);
    now = 2000;
    c.request(2, 7); // the answer to 6 never came
    expect(sent.map((t) => t.at)).toEqual([6, 7]);
    expect(c.sent).toBe(2);
  });
  it('clamps and rounds, and encodes the request of PROTOCOL.md', () => {
    const sent: SeekTarget[] = [];
    new SeekCoalescer((t) => (sent.push(t), true)).request(3, -5.4);
    expect(sent[0]).toEqual({ session: 3, at: 0 });
    expect(JSON.parse(seekRequest({ session: 3, at: 12 }))).toEqual({ type: 'seek', session: 3, at: 12 });
  });
});

describe('timeline model', () => {
  const json = {
    id: 1,
    events: 7,
    end_ts: 197107934,
    history_bytes: 88,
    spilled: false,
    recorded: false,
    markers_truncated: false,
    markers: [
      [36458551, 'start', 7001],
      [50000000, 'bogus', 1],
      [194752521, 'exit', 7001],
    ],
    rss: [
      [31064370, 0],
      [88011038, MiB],
      [143518080, 2 * MiB],
      [194752521, 0],
    ],
  };
  it('parses /api/sessions/S/timeline, skipping unknown markers', () => {
    const t = parseTimeline(json);
    expect(t.endTs).toBe(197107934);
    expect(t.markers).toEqual([
      { ts: 36458551, kind: 'start', pid: 7001 },
      { ts: 194752521, kind: 'exit', pid: 7001 },
    ]);
    expect(t.ts.length).toBe(4);
    expect(() => parseTimeline({ error: 'x' })).toThrow();
  });
  it('extends the fetched curve with newer live points only', () => {
    const t = parseTimeline(json);
    const m = mergeCurve(t, { ts: [100, 194752521, 200000000], rss: [5, 0, 3 * MiB] });
    expect(m.ts).toEqual([31064370, 88011038, 143518080, 194752521, 200000000]);
    expect(m.rss[4]).toBe(3 * MiB);
    expect(curveAt(m, 0)).toBe(0);
    expect(curveAt(m, 100000000)).toBe(MiB);
    expect(curveAt(m, 143518080)).toBe(2 * MiB);
    expect(mergeCurve(null, null)).toEqual({ ts: [], rss: [] });
  });
  it('maps time to pixels and back', () => {
    const s = new TimeScale(1000, 112, 6);
    expect(s.x(0)).toBe(6);
    expect(s.x(1000)).toBe(106);
    expect(s.x(5000)).toBe(106);
    expect(s.t(56)).toBe(500);
    expect(s.t(-10)).toBe(0);
    expect(s.t(500)).toBe(1000);
  });
  it('finds markers near a time, nearest first', () => {
    const t = parseTimeline(json);
    expect(markersNear(t.markers, 190000000, 10000000).map((m) => m.kind)).toEqual(['exit']);
    expect(markersNear(t.markers, 120000000, 1000)).toEqual([]);
  });
  it('plays at a speed and stops at the end', () => {
    expect(advance(0, 100, 1, 1e9)).toEqual({ at: 1e8, done: false });
    expect(advance(0, 100, 0.1, 1e9)).toEqual({ at: 1e7, done: false });
    expect(advance(9e8, 100, 10, 1e9)).toEqual({ at: 1e9, done: true });
    expect(stepSpeed(1, 1)).toBe(2);
    expect(stepSpeed(10, 1)).toBe(10);
    expect(stepSpeed(0.1, -1)).toBe(0.1);
    expect(stepSpeed(1, -1)).toBe(0.5);
  });
  it('labels live and past', () => {
    expect(modeLabel(null)).toBe('LIVE');
    expect(modeLabel(1234567890)).toBe('PAST t=1.235 s');
    expect(formatTs(1500)).toBe('2 µs');
    expect(formatTs(12_300_000)).toBe('12.3 ms');
    expect(formatTs(125e9)).toBe('2 min 05.0 s');
  });
});

describe('diff', () => {
  const P = 4096;
  it('classifies resident, dropped, mapped and unmapped ranges', () => {
    const a = [0, 4 * P, 0, 4 * P, 8 * P, 1, 10 * P, 12 * P, 1];
    const b = [0, 2 * P, 1, 2 * P, 6 * P, 0, 6 * P, 8 * P, 1, 20 * P, 21 * P, 0];
    expect(diffRanges(a, b)).toEqual([
      { start: 0, end: 2 * P, kind: 'resident' },
      { start: 4 * P, end: 6 * P, kind: 'dropped' },
      { start: 10 * P, end: 12 * P, kind: 'unmapped' },
      { start: 20 * P, end: 21 * P, kind: 'mapped' },
    ]);
  });
  it('merges adjacent ranges of one kind and ignores untouched ones', () => {
    expect(diffRanges([], [0, P, 0, P, 3 * P, 1])).toEqual([{ start: 0, end: 3 * P, kind: 'mapped' }]);
    expect(diffRanges([0, P, 1], [0, P, 1])).toEqual([]);
    expect(diffRanges([0, P, 2], [0, P, 0])).toEqual([]);
    expect(diffRanges([0, P, 2], [0, P, 1])).toEqual([{ start: 0, end: P, kind: 'resident' }]);
    expect(diffTotals(diffRanges([0, 3 * P, 1], [P, 2 * P, 0]))).toEqual({ resident: 0, dropped: P, mapped: 0, unmapped: 2 * P });
  });
  it('agrees with a page-by-page reference on random maps', () => {
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    const randomMap = (): number[] => {
      const out: number[] = [];
      let pos = rnd(3) * P;
      while (pos < 60 * P) {
        const len = (1 + rnd(5)) * P;
        if (rnd(3)) out.push(pos, pos + len, rnd(3));
        pos += len + rnd(2) * P;
      }
      return out;
    };
    const stateAt = (m: number[], page: number): number => {
      for (let i = 0; i < m.length; i += 3) if (m[i]! <= page * P && page * P < m[i + 1]!) return m[i + 2]!;
      return -1;
    };
    for (let k = 0; k < 200; k++) {
      const a = randomMap();
      const b = randomMap();
      const d = diffRanges(a, b);
      for (let page = 0; page < 70; page++) {
        const sa = stateAt(a, page);
        const sb = stateAt(b, page);
        let want: string | null = null;
        if (sa < 0 && sb >= 0) want = 'mapped';
        else if (sa >= 0 && sb < 0) want = 'unmapped';
        else if (sa >= 0 && sa !== 1 && sb === 1) want = 'resident';
        else if (sa === 1 && sb >= 0 && sb !== 1) want = 'dropped';
        const got = d.find((r) => r.start <= page * P && page * P < r.end)?.kind ?? null;
        expect(got).toBe(want);
      }
    }
  });
  it('diffs two /api/state answers per process', () => {
    const st = (procs: [number, [number, number, string][]][]) => ({ sessions: [{ id: 4, processes: procs.map(([pid, ranges]) => ({ pid, ranges })) }, { id: 5, processes: [{ pid: 9, ranges: [[0, P, 'resident']] }] }] });
    const a = st([[10, [[0, 2 * P, 'not_resident']]], [11, [[0, P, 'resident']]]]);
    const b = st([[10, [[0, 2 * P, 'resident']]], [12, [[P, 2 * P, 'untracked']]]]);
    const d = diffStates(a, b, 4);
    expect([...d.keys()].sort()).toEqual([10, 11, 12]);
    expect(d.get(10)).toEqual([{ start: 0, end: 2 * P, kind: 'resident' }]);
    expect(d.get(11)).toEqual([{ start: 0, end: P, kind: 'unmapped' }]);
    expect(d.get(12)).toEqual([{ start: P, end: 2 * P, kind: 'mapped' }]);
    expect(flatFromJson([[0, P, 'bogus'], [P, 2 * P, 'resident'], 'x'])).toEqual([P, 2 * P, 1]);
  });
});

describe('URL state with a time position', () => {
  it('round-trips at and diff with a session', () => {
    const v = parseViewState('?session=3&at=1500000000&diff=0-1500000000');
    expect(v.at).toBe(1500000000);
    expect(v.diff).toEqual([0, 1500000000]);
    expect(serializeViewState(v)).toBe('?session=3&at=1500000000&diff=0-1500000000');
  });
  it('ignores at and diff without a session, and malformed values', () => {
    expect(parseViewState('?at=5&diff=1-2').at).toBeNull();
    expect(parseViewState('?at=5&diff=1-2').diff).toBeNull();
    const v = parseViewState('?session=1&at=-3&diff=1-x');
    expect(v.at).toBeNull();
    expect(v.diff).toBeNull();
    expect(serializeViewState({ ...v, session: null, at: 4 })).toBe('');
  });
});

describe('keyboard: timeline keys', () => {
  it('maps arrows, l, p, [ ] and o; not while typing', () => {
    expect(keyAction({ key: 'ArrowLeft' }, false)).toBe('step-prev');
    expect(keyAction({ key: 'ArrowRight' }, false)).toBe('step-next');
    expect(keyAction({ key: 'l' }, false)).toBe('live');
    expect(keyAction({ key: 'p' }, false)).toBe('replay');
    expect(keyAction({ key: '[' }, false)).toBe('slower');
    expect(keyAction({ key: ']' }, false)).toBe('faster');
    expect(keyAction({ key: 'o' }, false)).toBe('open');
    expect(keyAction({ key: 'l' }, true)).toBeNull();
    expect(keyAction({ key: 'ArrowLeft', altKey: true }, false)).toBeNull();
  });
});

describe('moment messages', () => {
  const session = [1, ['prog'], 7000, true, null, 0, 1700000000000000000n, [[7001, 7000, ['prog'], true, null, [0x7f0000000000, 0x7f0000100000, 1], [10, MiB], [], [], [], []]], [10, MiB], 0, []];
  it('peeks the kind and decodes a moment', () => {
    const bytes = encodeWire([2, 3, 1700000001000000000n, 1, 50, 40, 30, 60, 90, session]);
    expect(peekKind(bytes)).toBe(2);
    const m = decodeServerMessage(bytes);
    expect(m.kind).toBe('moment');
    if (m.kind !== 'moment' || typeof m.session === 'string') throw new Error('not a moment with a state');
    expect([m.sessionId, m.at, m.ts, m.prevTs, m.nextTs, m.endTs]).toEqual([1, 50, 40, 30, 60, 90]);
    expect(m.session.processes[0]!.ranges).toEqual([0x7f0000000000, 0x7f0000100000, 1]);
  });
  it('carries the reason when there is no state', () => {
    const m = decodeServerMessage(encodeWire([2, 3, 1n, 9, 5, 0, 0, 0, 0, 'no such session']));
    expect(m.kind === 'moment' && m.session).toBe('no such session');
    expect(() => decodeServerMessage(encodeWire([2, 1, 1n, 9, 5, 0, 0, 0]))).toThrow();
  });
  it('peekKind on other frames', () => {
    expect(peekKind(encodeWire([0, 1, 1n, []]))).toBe(0);
    expect(peekKind(encodeWire([1, 1n, []]))).toBe(1);
    expect(peekKind(new Uint8Array([0xc0]))).toBe(-1);
    expect(peekKind(new Uint8Array([]))).toBe(-1);
  });
});

describe('upload', () => {
  const fakeFetch = (status: number, body: string): typeof fetch => (async () => new Response(body, { status })) as unknown as typeof fetch;
  it('returns the new session id', async () => {
    expect(await uploadRecording('api/recordings', new Blob(['x']), fakeFetch(201, '{"id":7}'))).toEqual({ ok: true, id: 7 });
  });
  it("returns the daemon's error sentence", async () => {
    const r = await uploadRecording('api/recordings', new Blob(['x']), fakeFetch(400, '{"error":"not a mevi recording (the file does not start with \\"MEVIREC\\\\n\\")"}'));
    expect(r).toEqual({ ok: false, error: 'not a mevi recording (the file does not start with "MEVIREC\\n")' });
    expect(errorFromBody(413, '')).toMatch(/too big/);
    expect(errorFromBody(500, 'oops')).toBe('mevid answered HTTP 500: oops');
  });
  it('reports an unreachable daemon', async () => {
    const r = await uploadRecording('x', new Blob([]), (async () => {
      throw new Error('down');
    }) as unknown as typeof fetch);
    expect(r).toEqual({ ok: false, error: 'could not reach mevid: down' });
  });
});
