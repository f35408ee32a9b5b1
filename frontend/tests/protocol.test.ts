import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import {
  decodeBatch,
  decodeServerMessage,
  encodeBatch,
  encodeWire,
  parseEvent,
  ProtocolError,
  type MeviEvent,
} from '../src/protocol';
import { sharedWireDir } from './shared';

const goldenBin = join(sharedWireDir, 'events.msgpack');
const goldenJson = join(sharedWireDir, 'events.json');
const haveGolden = existsSync(goldenBin) && existsSync(goldenJson);

/** An event as JSON shows it: bigint fields as numbers. */
function asJson(ev: MeviEvent): Record<string, unknown> {
  return Object.fromEntries(Object.entries(ev).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]));
}

describe.skipIf(!haveGolden)('golden wire files from the C encoder (tests/vectors/wire)', () => {
  it('decodes events.msgpack into exactly the events of events.json', () => {
    const events = decodeBatch(readFileSync(goldenBin));
    const expected = JSON.parse(readFileSync(goldenJson, 'utf8')) as Record<string, unknown>[];
    expect(events.length).toBe(expected.length);
    events.forEach((ev, i) => expect(asJson(ev), `event ${i} (${ev.type})`).toEqual(expected[i]));
  });

  it('re-encodes them byte for byte like msgpack-c', () => {
    const bytes = new Uint8Array(readFileSync(goldenBin));
    const again = encodeBatch(decodeBatch(bytes));
    expect(Buffer.from(again).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
  });
});

describe('event validation', () => {
  const ok = [5, 10, 0, 4096, 8192, 1];
  it('accepts a valid map event', () => {
    expect(parseEvent(ok)).toEqual({ type: 'map', pid: 10, ts: 0, start: 4096, end: 8192, state: 1 });
  });
  const bad: [string, unknown][] = [
    ['not an array', { type: 5 }],
    ['too short', [5, 10]],
    ['unknown type', [9, 10, 0]],
    ['wrong arity', [5, 10, 0, 4096, 8192]],
    ['inverted range', [5, 10, 0, 8192, 4096, 1]],
    ['empty range', [6, 10, 0, 4096, 4096]],
    ['unaligned range', [5, 10, 0, 4097, 8192, 1]],
    ['above 2^56', [5, 10, 0, 2 ** 56, 2 ** 56 + 4096, 1]],
    ['bad state', [8, 10, 0, 4096, 8192, 3]],
    ['negative address', [5, 10, 0, -4096, 8192, 1]],
    ['float pid', [4, 1.5, 0, 0]],
    ['argv not strings', [3, 10, 0, [1, 2]]],
    ['resume not bool', [0, 10, 0, 1, 0, 1, 0, []]],
  ];
  for (const [name, raw] of bad) {
    it(`rejects ${name}`, () => expect(() => parseEvent(raw)).toThrow(ProtocolError));
  }
  it('names the offending element', () => {
    expect(() => decodeBatch(encode([[5, 1, 0, 0, 4096, 1], [5, 1, 0, 4096, 4000, 1]]))).toThrow(/batch\[1\]/);
  });
  it('rejects malformed msgpack', () => {
    expect(() => decodeBatch(new Uint8Array([0x93, 0x01]))).toThrow(ProtocolError);
    expect(() => decodeBatch(new Uint8Array([0xc1]))).toThrow(ProtocolError);
  });
});

describe('server messages', () => {
  const started = 1_700_000_000_123_456_789n; // beyond 2^53: must stay exact
  const snapshot = [
    0,
    1,
    started + 5_000_000_000n,
    [
      [
        7,
        ['prog', 'a'],
        4242,
        true,
        null,
        0,
        started,
        [[4243, 4242, ['prog', 'a'], true, null, [0x7f0000000000, 0x7f0000004000, 1, 0x7f0000004000, 0x7f0000010000, 0], [0, 0, 1000, 16384]]],
        [0, 0, 1000, 16384],
      ],
    ],
  ];

  it('decodes a snapshot, keeping wall-clock nanoseconds exact', () => {
    const m = decodeServerMessage(encodeWire(snapshot));
    expect(m.kind).toBe('snapshot');
    if (m.kind !== 'snapshot') return;
    expect(m.now).toBe(started + 5_000_000_000n);
    const s = m.sessions[0]!;
    expect(s.started_at).toBe(started);
    expect(s.processes[0]!.ranges).toEqual([0x7f0000000000, 0x7f0000004000, 1, 0x7f0000004000, 0x7f0000010000, 0]);
    expect(s.processes[0]!.exit_status).toBeNull();
    expect(s.rss_history).toEqual([0, 0, 1000, 16384]);
  });

  it('decodes a delta', () => {
    const delta = [1, started, [[7, [[8, 4243, 2000, 0x7f0000004000, 0x7f0000008000, 1], [4, 4243, 3000, 0]]]]];
    const m = decodeServerMessage(encodeWire(delta));
    expect(m).toEqual({
      kind: 'delta',
      now: started,
      batches: [
        {
          sessionId: 7,
          events: [
            { type: 'state', pid: 4243, ts: 2000, start: 0x7f0000004000, end: 0x7f0000008000, state: 1 },
            { type: 'proc_exit', pid: 4243, ts: 3000, status: 0 },
          ],
        },
      ],
    });
  });

  it('rejects unsorted snapshot ranges, unknown kinds and wrong shapes', () => {
    const unsorted = structuredClone(snapshot) as unknown[];
    ((((unsorted[3] as unknown[])[0] as unknown[])[7] as unknown[])[0] as unknown[])[5] = [8192, 12288, 1, 0, 4096, 1];
    expect(() => decodeServerMessage(encodeWire(unsorted))).toThrow(/sorted/);
    expect(() => decodeServerMessage(encodeWire([2, 0, []]))).toThrow(ProtocolError);
    expect(() => decodeServerMessage(encodeWire([0, 1, 0]))).toThrow(ProtocolError);
    expect(() => decodeServerMessage(encodeWire([1, 0, [[1]]]))).toThrow(ProtocolError);
  });

  it('round-trips every event type through encode and decode', () => {
    const events: MeviEvent[] = [
      { type: 'session_start', pid: 1, ts: 0, version: 1, mode: 1, resume: true, started_at: started, argv: ['a', 'ü'] },
      { type: 'session_end', pid: 1, ts: 9, status: 130 },
      { type: 'proc_start', pid: 2, ts: 1, ppid: 1, flags: 1, cmdline: [] },
      { type: 'proc_exec', pid: 2, ts: 2, cmdline: ['x'] },
      { type: 'proc_exit', pid: 2, ts: 3, status: -1 },
      { type: 'map', pid: 2, ts: 4, start: 2 ** 47 - 8192, end: 2 ** 47, state: 2 },
      { type: 'unmap', pid: 2, ts: 5, start: 0, end: 4096 },
      { type: 'remap', pid: 2, ts: 6, from_start: 4096, from_end: 8192, to_start: 2 ** 55, to_end: 2 ** 55 + 4096 },
      { type: 'state', pid: 2, ts: 2 ** 40, start: 4096, end: 8192, state: 0 },
    ];
    expect(decodeBatch(encodeBatch(events))).toEqual(events);
  });
});
