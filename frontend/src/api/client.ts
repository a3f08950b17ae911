/**
 * The one way the page talks to the API: `apiFetch` adds the API key, runs the 401
 * prompt-and-retry loop, and turns every non-2xx answer into an `ApiError` whose message is the
 * API's `{"detail": "..."}` text, so the page can show it as is.
 */

import { API_KEY_HEADER, askForApiKey, canAskForApiKey, getApiKey, setApiKey } from './apiKey';

/** The backup resource; restores, pins and drills of a backup hang below it. */
export const API_BASE = '/api/backup';

export const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** An HTTP error from the API; `message` is the API's `detail` text. */
export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

const MAX_KEY_ATTEMPTS = 5;

function statusText(res: Response): string {
  return res.statusText ? `${res.status} ${res.statusText}` : String(res.status);
}

/** The `detail` of a JSON error body as one line: a string as is, FastAPI's validation list joined. */
function detailText(detail: unknown): string {
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    // FastAPI validation errors: [{loc, msg, type}, ...]
    return detail
      .map((d) => (d && typeof d === 'object' && 'msg' in d ? String((d as { msg: unknown }).msg) : JSON.stringify(d)))
      .join('; ');
  }
  return detail !== undefined && detail !== null ? JSON.stringify(detail) : '';
}

/** Turns an error response into the message to show: the API's `detail` when there is one. */
async function errorFrom(res: Response): Promise<ApiError> {
  let body = '';
  try {
    body = await res.text();
  } catch {
    // ignore: fall back to the status line
  }
  let message = '';
  if (body) {
    try {
      const data: unknown = JSON.parse(body);
      message = detailText((data as { detail?: unknown } | null)?.detail);
    } catch {
      // Not JSON (a proxy's HTML page, say): use short plain text only.
      const text = body.trim();
      if (text && text.length <= 200 && !text.startsWith('<')) message = text;
    }
  }
  if (!message) message = `Request failed: ${statusText(res)}`;
  return new ApiError(res.status, message);
}

/**
 * fetch() with the API key header, the 401 prompt-and-retry loop and `detail` errors.
 * Returns the (ok) Response.
 */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const sentKey = getApiKey();
    const headers = new Headers(init.headers);
    if (sentKey) headers.set(API_KEY_HEADER, sentKey);

    let res: Response;
    try {
      res = await fetch(path, { ...init, headers });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(`Could not reach the backupd server (${reason})`);
    }

    if (res.status === 401 && attempt < MAX_KEY_ATTEMPTS) {
      const current = getApiKey();
      if (current && current !== sentKey) continue; // another request already got a new key
      if (canAskForApiKey()) {
        const key = await askForApiKey(sentKey ? 'rejected' : 'required');
        if (key) {
          setApiKey(key);
          continue;
        }
        if (sentKey) setApiKey(null); // the stored key is wrong and the user gave none
      }
    }
    if (!res.ok) throw await errorFrom(res);
    return res;
  }
}

export async function requestJson<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await apiFetch(path, init);
  return (await res.json()) as T;
}

/** Throws when an answer is not the shape the page needs (an older server, a proxy's page). */
export function expectShape<T>(data: T, ok: (data: T) => boolean, path: string): T {
  if (!data || typeof data !== 'object' || !ok(data)) throw new Error(`Unexpected answer from ${path}`);
  return data;
}

/** `/api/backup/{id}` and below it, with the id escaped. */
export function backupPath(id: string, below = ''): string {
  return `${API_BASE}/${encodeURIComponent(id)}${below}`;
}
