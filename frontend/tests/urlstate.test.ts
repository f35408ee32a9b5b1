import { describe, expect, it } from 'vitest';
import { defaultViewState, parseViewState, serializeViewState } from '../src/urlstate';

describe('URL state', () => {
  it('defaults serialise to nothing', () => {
    expect(serializeViewState(defaultViewState())).toBe('');
    expect(parseViewState('')).toEqual(defaultViewState());
  });
  it('round-trips every field', () => {
    const v = {
      session: 2,
      q: 'cargo build',
      zoom: { sessionId: 2, pid: 4242, start: 0x7f0000000000, end: 0x7f0004000000 },
      showGaps: false,
      showNonResident: false,
      collapsed: new Set(['2:4243', '2:4250']),
      at: null,
      diff: null,
      bySite: true,
      site: 12,
    };
    const s = serializeViewState(v);
    expect(s).toBe('?session=2&q=cargo+build&zoom=2:4242:7f0000000000-7f0004000000&gaps=0&nonres=0&collapsed=2:4243,2:4250&by=site&site=12');
    expect(parseViewState(s)).toEqual(v);
  });
  it('ignores malformed values', () => {
    const v = parseViewState('?session=abc&zoom=1:2:zz-10&collapsed=x,1:2');
    expect(v.session).toBeNull();
    expect(v.zoom).toBeNull();
    expect([...v.collapsed]).toEqual(['1:2']);
    expect(parseViewState('?zoom=1:2:2000-1000').zoom).toBeNull();
  });
});
