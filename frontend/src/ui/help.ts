/* help — the "?" overlay: shortcuts and what the colours mean. */
import { SHORTCUTS } from '../keyboard';
import { el } from './dom';

export function buildHelp(onClose: () => void): HTMLElement {
  const rows = SHORTCUTS.map(([k, what]) => el('tr', {}, el('td', {}, el('kbd', {}, k)), el('td', {}, what)));
  const legend = el(
    'ul',
    { className: 'legend' },
    el('li', {}, el('span', { className: 'swatch resident' }), 'resident: the kernel has a page there'),
    el('li', {}, el('span', { className: 'swatch not-resident' }), 'not resident: mapped, never touched or dropped'),
    el('li', {}, el('span', { className: 'swatch swapped' }), 'swapped: the page is in swap (sampled mode)'),
    el('li', {}, el('span', { className: 'swatch untracked' }), 'untracked: mapped, but mevi cannot observe it'),
    el('li', {}, el('span', { className: 'swatch unmapped' }), 'dark: nothing mapped (part of the bar scale only)'),
    el('li', {}, 'the thin stripe above a bar: the memory kind (anon, heap, stack, thread stack, file, shmem, special; legend beside the session chips)'),
    el('li', {}, '"Group by call site": each range in the colour of the call stack that mapped it (bright resident, dark not resident); the table under the session header ranks call sites by resident bytes, a click on a row highlights its ranges'),
    el('li', {}, 'click a range: the side panel shows its kind, the whole backtrace that mapped it and, in exact mode, the thread that first touched it'),
  );
  const close = el('button', { className: 'close' }, 'close');
  close.addEventListener('click', onClose);
  const box = el(
    'div',
    { className: 'help-box', role: 'dialog', ariaLabel: 'Keyboard shortcuts' },
    el('h2', {}, 'Keyboard shortcuts'),
    el('table', {}, ...rows),
    el('h2', {}, 'Reading the bars'),
    legend,
    el(
      'p',
      {},
      'Each bar is a group of ranges close together in the address space. Its width stands for the power of two written under its start address; the gaps between groups are labelled with their size. A pixel that covers several states is split top to bottom in proportion, so a lone resident page still shows. Exact sessions track private anonymous memory (heap, mmap, thread stacks); sampled sessions (mevi-run --sample, or --pid) show every mapping — files, shared memory, stacks — with its kind in the stripe above each bar.',
    ),
    close,
  );
  const overlay = el('div', { className: 'help-overlay', id: 'help' }, box);
  overlay.hidden = true;
  overlay.addEventListener('click', (ev) => {
    if (ev.target === overlay) onClose();
  });
  return overlay;
}
