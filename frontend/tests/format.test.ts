import { describe, expect, it } from 'vitest';
import { formatAddress, formatArg, formatBytes, formatDuration, formatExitStatus, formatRange, formatSecondsTicks } from '../src/format';

describe('formatBytes (binary units)', () => {
  const cases: [number, string][] = [
    [0, '0 B'],
    [1023, '1023 B'],
    [4096, '4 KiB'],
    [1536, '1.5 KiB'],
    [12345, '12.1 KiB'],
    [1024 * 1024 - 1, '1 MiB'], // rounds up into the next unit
    [64 * 2 ** 20, '64 MiB'],
    [512 * 2 ** 20, '512 MiB'],
    [1.25 * 2 ** 30, '1.25 GiB'],
    [123.4 * 2 ** 30, '123 GiB'],
    [2 ** 47, '128 TiB'],
    [2 ** 56, '64 PiB'],
    [-4096, '-4 KiB'],
  ];
  for (const [n, s] of cases) it(`${n} -> ${s}`, () => expect(formatBytes(n)).toBe(s));
});

describe('other formats', () => {
  it('addresses and ranges in hex', () => {
    expect(formatAddress(0x7f12a4000000)).toBe('0x7f12a4000000');
    expect(formatRange(4096, 8192)).toBe('[0x1000, 0x2000)');
  });
  it('durations', () => {
    expect(formatDuration(850e6)).toBe('850 ms');
    expect(formatDuration(12.4e9)).toBe('12 s');
    expect(formatDuration(3.25e9)).toBe('3.3 s');
    expect(formatDuration(185e9)).toBe('3 min 05 s');
    expect(formatDuration(7380e9)).toBe('2 h 03 min');
  });
  it('exit statuses', () => {
    expect(formatExitStatus(0)).toBe('exit 0');
    expect(formatExitStatus(137)).toBe('killed by SIGKILL (137)');
    expect(formatExitStatus(139)).toBe('killed by SIGSEGV (139)');
    expect(formatExitStatus(128)).toBe('exit 128');
  });
});

describe('chart tick labels', () => {
  it('use the decimals the step needs', () => {
    expect(formatSecondsTicks([3.8, 3.85, 3.9])).toEqual(['3.80 s', '3.85 s', '3.90 s']);
    expect(formatSecondsTicks([0, 0.5, 1])).toEqual(['0.0 s', '0.5 s', '1.0 s']);
    expect(formatSecondsTicks([0, 10, 20])).toEqual(['0 s', '10 s', '20 s']);
    expect(formatSecondsTicks([60, 120, 180])).toEqual(['1:00', '2:00', '3:00']);
  });
});

describe('argument chips', () => {
  it('one line, 80 characters at most', () => {
    expect(formatArg('a\nb  c')).toBe('a b c');
    expect(formatArg('x'.repeat(100))).toBe(`${'x'.repeat(77)}…`);
  });
});
