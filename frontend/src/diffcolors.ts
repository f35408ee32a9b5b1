/* diffcolors — the highlight colour of each diff kind (timeline legend and map overlay). */
import type { DiffKind } from './diff';

export const DIFF_COLORS: Record<DiffKind, string> = {
  resident: '#3ddc84',
  dropped: '#ff9f1c',
  mapped: '#4cc9f0',
  unmapped: '#f72585',
};
