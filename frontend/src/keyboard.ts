/* keyboard — the shortcuts: space pauses, / focuses the filter, ? shows help, Esc backs out. */

export type KeyAction = 'pause' | 'focus-filter' | 'help' | 'escape';

export const SHORTCUTS: readonly [key: string, what: string][] = [
  ['space', 'pause / resume the view (data keeps arriving and is applied on resume)'],
  ['/', 'focus the filter box (pid or command substring)'],
  ['?', 'show / hide this help'],
  ['Esc', 'close help, leave the zoom, or clear and leave the filter'],
  ['click a bar', 'zoom that group to page granularity'],
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
    default:
      return null;
  }
}
