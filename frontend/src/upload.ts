/*
 * upload — sends a .mevi recording to mevid (POST /api/recordings, the file
 * as the body) and turns the answer into a session id or the daemon's own
 * error sentence ("not a mevi recording (...)", "truncated recording: ...").
 */

export type UploadResult = { ok: true; id: number } | { ok: false; error: string };

/** The daemon's message from an error response body, else a generic one. */
export function errorFromBody(status: number, body: string): string {
  try {
    const j = JSON.parse(body) as { error?: unknown };
    if (typeof j.error === 'string' && j.error) return j.error;
  } catch {
    /* not JSON */
  }
  if (status === 413) return 'the file is too big for mevid (256 MiB at most)';
  return `mevid answered HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`;
}

export async function uploadRecording(url: string, file: Blob, fetchFn: typeof fetch = fetch): Promise<UploadResult> {
  let r: Response;
  try {
    r = await fetchFn(url, { method: 'POST', body: file, headers: { 'content-type': 'application/octet-stream' } });
  } catch (err) {
    return { ok: false, error: `could not reach mevid: ${(err as Error).message ?? String(err)}` };
  }
  const body = await r.text().catch(() => '');
  if (!r.ok) return { ok: false, error: errorFromBody(r.status, body) };
  try {
    const j = JSON.parse(body) as { id?: unknown };
    if (typeof j.id === 'number' && Number.isSafeInteger(j.id)) return { ok: true, id: j.id };
  } catch {
    /* fall through */
  }
  return { ok: false, error: `unexpected answer from mevid: ${body.slice(0, 200)}` };
}
