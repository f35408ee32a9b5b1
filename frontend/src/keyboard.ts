/* keyboard — the shortcuts: space pauses, / focuses the filter, ? shows help, Esc backs out, ←/→ l p [ ] o drive the timeline. */

export type KeyAction = 'pause' | 'focus-filter' | 'help' | 'escape' | 'step-prev' | 'step-next' | 'live' | 'replay' | 'slower' | 'faster' | 'open';

export const SHORTCUTS: readonly [key: string, what: string][] = [
  ['space', 'pause / resume the view (data keeps arriving and is applied on resume)'],
  ['/', 'focus the filter box (pid or command substring)'],
  ['?', 'show / hide this help'],
  ['Esc', 'close help, leave the zoom, or clear and leave the filter'],
  ['click a bar', 'zoom that group to page granularity'],
  ['← / →', 'timeline: step to the previous / next event of the selected session'],
  ['l', 'timeline: back to live'],
  ['p', 'timeline: play / pause the replay'],
  ['[ / ]', 'timeline: replay slower / faster (0.1× … 10×)'],
  ['o', 'open a .mevi recording (or drop the file on the page)'],
];

/**
 * Maps a key press to an action. While typing in an input only Esc counts;
 * modified keys (Ctrl, Alt, Meta) are left to the browser.
 */
export function keyAction(ev: { key: string; ctrlKey?: boolean; altKey?: boolean; metaKey?: boolean }, typing: boolean): KeyAction | null {
  if (ev.ctrlKey || ev.altKey || ev.metaKey) return null;
  if (ev.key === 'Escape') return 'escape';
  if (typing) return null;
  switch (ev.key) {
    case ' ':
    case 'Spacebar':
      return 'pause';
    case '/':
      return 'focus-filter';
    case '?':
      return 'help';
    case 'ArrowLeft':
      return 'step-prev';
    case 'ArrowRight':
      return 'step-next';
    case 'l':
      return 'live';
    case 'p':
      return 'replay';
    case '[':
      return 'slower';
    case ']':
      return 'faster';
    case 'o':
      return 'open';
    default:
      return null;
  }
}
