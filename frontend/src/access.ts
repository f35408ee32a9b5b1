/*
 * access — the page's side of mevid's access rule (daemon/access.h).
 *
 * mevid admits its own user's processes as they are, and anyone else with its
 * token, which the URL it prints carries (`/?token=…`). The page takes the
 * token out of the address bar at once (history.replaceState: it must not
 * stay in the history, a bookmark or a screenshot) and trades it for an
 * HttpOnly, SameSite=Strict cookie (POST api/access with
 * `Authorization: Bearer`), which every later request and the websocket carry.
 * When the websocket is refused, the browser does not say why; the page asks
 * api/access and shows mevid's own sentence (401: no token, 403: a wrong
 * token or a foreign origin).
 */

export interface Refusal {
  status: number;
  message: string;
}

type LocationLike = Pick<Location, 'pathname' | 'search' | 'hash'>;
type HistoryLike = Pick<History, 'replaceState'>;

/** Removes `token` from the address bar; returns it (or null when absent). */
export function takeToken(loc: LocationLike, hist: HistoryLike): string | null {
  const p = new URLSearchParams(loc.search);
  const token = p.get('token');
  if (token === null) return null;
  p.delete('token');
  const rest = p.toString();
  hist.replaceState(null, '', `${loc.pathname}${rest ? `?${rest}` : ''}${loc.hash}`);
  return token;
}

/** The daemon's sentence from an error body, else a generic one. */
function messageOf(status: number, body: string): string {
  try {
    const j = JSON.parse(body) as { error?: unknown };
    if (typeof j.error === 'string' && j.error) return j.error;
  } catch {
    /* not JSON */
  }
  return `mevid refused this page (HTTP ${status})`;
}

/**
 * Asks mevid whether this page is admitted, presenting token when given (a
 * valid one comes back as the cookie). Null when admitted or when mevid
 * cannot be reached at all (then it is simply not running).
 */
export async function checkAccess(token: string | null, fetchFn: typeof fetch = fetch): Promise<Refusal | null> {
  let r: Response;
  try {
    r = await fetchFn('api/access', {
      method: 'POST',
      credentials: 'same-origin',
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  } catch {
    return null;
  }
  if (r.ok) return null;
  const body = await r.text().catch(() => '');
  if (r.status !== 401 && r.status !== 403) return null;
  return { status: r.status, message: messageOf(r.status, body) };
}
