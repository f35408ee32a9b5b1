/*
 * heatbar — the top bar's heat controls (heat.ts): "Heat" shows resident
 * memory coloured by its last write (bright: written in the last interval,
 * fading with age; blue: never seen written), and "cold > N s" shows only
 * the leak suspects (resident, not written for N seconds) with their totals
 * per process and call site.
 */
import { heat, setHeat } from '../heat';
import { el } from './dom';

export class HeatBar {
  readonly el: HTMLElement;
  readonly toggle: HTMLInputElement;
  readonly cold: HTMLInputElement;

  constructor() {
    this.toggle = el('input', { type: 'checkbox', id: 'opt-heat' });
    this.toggle.checked = heat.on;
    this.toggle.addEventListener('change', () => setHeat({ on: this.toggle.checked }));
    this.cold = el('input', { type: 'number', id: 'opt-cold', min: '1', step: '1', placeholder: 'N', className: 'heat-cold' });
    this.cold.style.width = '4em';
    this.cold.addEventListener('input', () => {
      const v = Number(this.cold.value);
      setHeat({ coldS: this.cold.value !== '' && v > 0 ? v : null });
    });
    this.el = el(
      'span',
      { className: 'heat-options' },
      el('label', { className: 'option', title: 'mevi-run --heat: resident memory by its last write (bright: written in the last interval, fading with age; blue: never seen written)' }, this.toggle, 'Heat'),
      el('label', { className: 'option heat-cold-label', title: 'Leak suspects: resident memory not written for more than N seconds (others dimmed), with totals per process and call site' }, 'cold >', this.cold, 's'),
    );
    (this.el.lastElementChild as HTMLElement).style.marginLeft = '0.8em';
  }
}
