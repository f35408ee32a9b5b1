/*
 * status — what the page says about its own state, as data: the banner above
 * the sessions and the empty state in their place. Pure, so each honest
 * message is tested; ui/statusview.ts puts them on screen.
 */
import type { LinkStatus } from './connection';
import { formatClock } from './format';

export interface StatusInput {
  link: LinkStatus;
  everConnected: boolean;
  retryInMs: number | null;
  /** Date.now() when the link was last live. */
  lastLiveAt: number;
  url: string;
  paused: boolean;
  queued: number;
  queueOverflow: boolean;
  errors: number;
  lastError: string | null;
  /** Whether any message was ever applied. */
  hasData: boolean;
  sessions: number;
  /** The session picked in the URL, and whether mevid knows it. */
  selectedSession: number | null;
  selectedKnown: boolean;
  /** Why mevid refuses this page (from api/access), when it does. */
  refusal?: { status: number; message: string } | null;
}

export type BannerKind = 'offline' | 'paused' | 'warning';
export interface Banner {
  kind: BannerKind;
  text: string;
}

/** The banner, or null. Offline beats paused beats warnings. */
export function bannerFor(i: StatusInput): Banner | null {
  if (i.link !== 'live' && i.everConnected && i.refusal) {
    return { kind: 'offline', text: `mevid refuses this page (${i.refusal.status}): ${i.refusal.message}` };
  }
  if (i.link !== 'live' && i.everConnected) {
    const retry = i.retryInMs !== null ? ` Retrying in ${(i.retryInMs / 1000).toFixed(1)} s.` : ' Connecting…';
    return { kind: 'offline', text: `mevid went away at ${formatClock(BigInt(i.lastLiveAt) * 1_000_000n)}: showing the last state received.${retry}` };
  }
  if (i.paused) {
    return {
      kind: 'paused',
      text: i.queueOverflow
        ? 'Paused. Too much arrived meanwhile: resuming will fetch a fresh snapshot.'
        : `Paused: the view is frozen; ${i.queued} update${i.queued === 1 ? '' : 's'} waiting. Press space to resume.`,
    };
  }
  if (i.lastError) {
    return { kind: 'warning', text: `Warning: ${i.errors} update${i.errors === 1 ? '' : 's'} could not be applied (last: ${i.lastError}).` };
  }
  return null;
}

/** A large message in place of the sessions. `backquoted` parts are commands. */
export interface EmptyState {
  title: string;
  detail: string;
}

export function emptyStateFor(i: StatusInput): EmptyState | null {
  if (!i.hasData || (!i.everConnected && i.sessions === 0)) {
    // A refusal stays on screen while the page tries again (link
    // 'connecting'): it is still the answer until a connection goes live.
    if (i.link !== 'live' && i.refusal) {
      return {
        title: i.refusal.status === 401 ? 'mevid wants its token' : 'Refused by mevid',
        detail: `mevid answers at ${i.url} but refuses this page (${i.refusal.status}): ${i.refusal.message}`,
      };
    }
    if (i.link === 'offline') {
      return {
        title: 'No daemon',
        detail: `mevid is not answering at ${i.url}. Start it with \`mevid\` (or \`systemctl --user start mevid\`); this page reconnects by itself.`,
      };
    }
    return { title: 'Connecting…', detail: `Waiting for mevid at ${i.url}.` };
  }
  if (i.sessions === 0) {
    return { title: 'No sessions yet', detail: 'Run a program under mevi: `mevi-run PROGRAM [ARGS...]`. It shows up here as it starts.' };
  }
  if (i.selectedSession !== null && !i.selectedKnown) {
    return { title: `Session #${i.selectedSession} is not known to mevid`, detail: 'It may have been forgotten, or mevid restarted. Pick another session above.' };
  }
  return null;
}
