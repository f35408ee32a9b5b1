/*
 * tooltip — one floating box that follows the pointer. Content is plain text
 * lines (no HTML from data: command lines and addresses are untrusted).
 */
export class Tooltip {
  readonly el: HTMLElement;

  constructor(parent: HTMLElement) {
    this.el = document.createElement('div');
    this.el.className = 'tooltip';
    this.el.hidden = true;
    parent.appendChild(this.el);
  }

  /** Shows lines near (clientX, clientY). The first line is the title. */
  show(lines: readonly string[], clientX: number, clientY: number): void {
    this.el.replaceChildren(
      ...lines.map((l, i) => {
        const d = document.createElement('div');
        if (i === 0) d.className = 'tt-title';
        d.textContent = l;
        return d;
      }),
    );
    this.el.hidden = false;
    const pad = 14;
    const r = this.el.getBoundingClientRect();
    let x = clientX + pad;
    let y = clientY + pad;
    if (x + r.width > window.innerWidth - 4) x = Math.max(4, clientX - pad - r.width);
    if (y + r.height > window.innerHeight - 4) y = Math.max(4, clientY - pad - r.height);
    this.el.style.transform = `translate(${Math.round(x)}px, ${Math.round(y)}px)`;
  }

  hide(): void {
    this.el.hidden = true;
  }
}
