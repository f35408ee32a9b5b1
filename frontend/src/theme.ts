/* theme — the colours and fonts of the original mevi, shared by CSS-less canvas code. */

export const COLORS = {
  bodyBg: 'rgb(40, 40, 40)',
  groupBg: '#0d1b2a',
  resident: '#cb1f5f',
  notResident: '#195ea3',
  untracked: '#b09b0d',
  swapped: '#8a4fd8',
  text: '#fafafa',
  dim: 'rgb(140, 140, 140)',
  separator: 'rgba(255, 255, 255, 0.3)',
  hover: 'rgba(255, 255, 255, 0.85)',
} as const;

/** Colour per page state value (0 not resident, 1 resident, 2 untracked, 3 swapped). */
export const STATE_COLORS = [COLORS.notResident, COLORS.resident, COLORS.untracked, COLORS.swapped] as const;

/** Human names per page state value. */
export const STATE_LABELS = ['not resident', 'resident', 'untracked', 'swapped'] as const;

export const MONO = "Iosevka, 'Iosevka Web', ui-monospace, monospace";
