/**
 * API client functions for backup/restore endpoints.
 *
 * Endpoints:
 *   POST   /api/backup              - Create backup job
 *   GET    /api/backup              - List backups
 *   GET    /api/backup/:id          - Get backup status
 *   GET    /api/backup/:id/download - Download backup file
 *   DELETE /api/backup/:id          - Delete backup
 *   POST   /api/backup/restore      - Start restore (multipart file upload; optional form fields
 *                                      tables, safety_backup, dry_run)
 *   GET    /api/backup/restore/:id  - Get restore status
 *   POST   /api/backup/:id/restore  - Restore a saved backup ({"tables", "safety_backup", "dry_run"})
 *   PATCH  /api/backup/:id          - Pin or unpin a backup ({"pinned": bool})
 *   GET    /api/schedule            - Automatic-backup schedule and retention
 *   PUT    /api/schedule            - Change them (any subset)
 *   POST   /api/backup/:id/drill    - Start a restore drill of a saved backup
 *   GET    /api/drills              - Drill history, newest first
 *   GET    /api/drills/:id          - One drill
 *
 * Errors: every non-2xx answer becomes an `ApiError` whose message is the API's
 * `{"detail": "..."}` text, so the page can show it as is.
 *
 * API key: when `BACKUPD_API_KEY` is set on the server, every request must carry
 * `X-API-Key`. The key lives in sessionStorage. On a 401 the client asks the page
 * (through the handler given to `setApiKeyPrompt`) for a key -- once, however many
 * requests were waiting -- stores it and retries the request.
 */

import type {
  BackupJob,
  BackupJobStartResponse,
  BackupListResponse,
  DrillListResponse,
  DrillResult,
  DrillStartResponse,
  RestoreJob,
  RestoreJobStartResponse,
  RestoreOptions,
  ScheduleResponse,
  ScheduleUpdate,
} from '../types/backup';

const API_BASE = '/api/backup';

export const API_KEY_STORAGE_KEY = 'backupd.apiKey';
export const API_KEY_HEADER = 'X-API-Key';

/** An HTTP error from the API; `message` is the API's `detail` text. */
export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

// ---------------------------------------------------------------------------
// API key (sessionStorage) and the 401 prompt
// ---------------------------------------------------------------------------

export function getApiKey(): string | null {
  try {
    return globalThis.sessionStorage?.getItem(API_KEY_STORAGE_KEY) || null;
  } catch {
    return null;
  }
}

export function setApiKey(key: string | null): void {
  try {
    if (key) globalThis.sessionStorage?.setItem(API_KEY_STORAGE_KEY, key);
    else globalThis.sessionStorage?.removeItem(API_KEY_STORAGE_KEY);
  } catch {
    // Storage may be unavailable (private mode); the key then lasts until reload only.
  }
}

/** Why the key is asked for: none was stored, or the stored/typed one was refused. */
export type ApiKeyPromptReason = 'required' | 'rejected';
/** Resolves to the key the user typed, or null when they cancelled. */
export type ApiKeyPrompt = (reason: ApiKeyPromptReason) => Promise<string | null>;

let apiKeyPrompt: ApiKeyPrompt | null = null;
let pendingPrompt: Promise<string | null> | null = null;

/** Registers the page's "enter your API key" form; pass null to unregister. */
export function setApiKeyPrompt(prompt: ApiKeyPrompt | null): void {
  apiKeyPrompt = prompt;
  pendingPrompt = null;
}

/** One prompt at a time: concurrent 401s share the same answer. */
function askForApiKey(reason: ApiKeyPromptReason): Promise<string | null> {
  if (!apiKeyPrompt) return Promise.resolve(null);
  if (!pendingPrompt) {
    pendingPrompt = apiKeyPrompt(reason).finally(() => {
      pendingPrompt = null;
    });
  }
  return pendingPrompt;
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

const MAX_KEY_ATTEMPTS = 5;

function statusText(res: Response): string {
  return res.statusText ? `${res.status} ${res.statusText}` : String(res.status);
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
      const detail = (data as { detail?: unknown } | null)?.detail;
      if (typeof detail === 'string') {
        message = detail;
      } else if (Array.isArray(detail)) {
        // FastAPI validation errors: [{loc, msg, type}, ...]
        message = detail
          .map((d) => (d && typeof d === 'object' && 'msg' in d ? String((d as { msg: unknown }).msg) : JSON.stringify(d)))
          .join('; ');
      } else if (detail !== undefined && detail !== null) {
        message = JSON.stringify(detail);
      }
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
      if (apiKeyPrompt) {
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

async function requestJson<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await apiFetch(path, init);
  return (await res.json()) as T;
}

// ---------------------------------------------------------------------------
// The seven endpoint functions
// ---------------------------------------------------------------------------

export async function createBackup(): Promise<BackupJobStartResponse> {
  return requestJson<BackupJobStartResponse>(API_BASE, { method: 'POST' });
}

export async function listBackups(): Promise<BackupListResponse> {
  return requestJson<BackupListResponse>(API_BASE, { method: 'GET' });
}

export async function getBackupJob(jobId: string): Promise<BackupJob> {
  return requestJson<BackupJob>(`${API_BASE}/${encodeURIComponent(jobId)}`, { method: 'GET' });
}

export function getBackupDownloadUrl(jobId: string): string {
  return `${API_BASE}/${encodeURIComponent(jobId)}/download`;
}

export async function deleteBackup(jobId: string): Promise<void> {
  await apiFetch(`${API_BASE}/${encodeURIComponent(jobId)}`, { method: 'DELETE' });
}

/** Uploads an archive (.zip, or .zip.age when the server holds the identity) and restores it. */
export async function startRestore(file: File, options: RestoreOptions = {}): Promise<RestoreJobStartResponse> {
  const form = new FormData();
  // Only the options given: the server's defaults apply to the others (safety backup on).
  if (options.tables) form.append('tables', options.tables.join(','));
  if (options.safety_backup !== undefined) form.append('safety_backup', String(options.safety_backup));
  if (options.dry_run !== undefined) form.append('dry_run', String(options.dry_run));
  form.append('file', file, file.name);
  // No Content-Type header: the browser sets multipart/form-data with its boundary.
  return requestJson<RestoreJobStartResponse>(`${API_BASE}/restore`, { method: 'POST', body: form });
}

export async function getRestoreJob(jobId: string): Promise<RestoreJob> {
  return requestJson<RestoreJob>(`${API_BASE}/restore/${encodeURIComponent(jobId)}`, { method: 'GET' });
}

// ---------------------------------------------------------------------------
// Restoring a saved backup (CONTRACT §11)
// ---------------------------------------------------------------------------

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/**
 * Restores a saved backup straight from the store. With `dry_run` the job only reports
 * `changes`; `tables` restricts the restore to those tables; `safety_backup` (server default
 * true) first backs up the rows being replaced, and the job's `safety_backup_id` then undoes it.
 */
export async function restoreBackup(backupId: string, options: RestoreOptions = {}): Promise<RestoreJobStartResponse> {
  return requestJson<RestoreJobStartResponse>(`${API_BASE}/${encodeURIComponent(backupId)}/restore`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify(options),
  });
}

// ---------------------------------------------------------------------------
// Pinning, schedule and drills (CONTRACT §9)
// ---------------------------------------------------------------------------

export async function setBackupPinned(jobId: string, pinned: boolean): Promise<BackupJob> {
  return requestJson<BackupJob>(`${API_BASE}/${encodeURIComponent(jobId)}`, {
    method: 'PATCH',
    headers: JSON_HEADERS,
    body: JSON.stringify({ pinned }),
  });
}

/** Throws when an answer is not the shape the page needs (an older server, a proxy's page). */
function expectShape<T>(data: T, ok: (data: T) => boolean, path: string): T {
  if (!data || typeof data !== 'object' || !ok(data)) throw new Error(`Unexpected answer from ${path}`);
  return data;
}

export async function getSchedule(): Promise<ScheduleResponse> {
  const data = await requestJson<ScheduleResponse>('/api/schedule', { method: 'GET' });
  return expectShape(data, (d) => typeof d.schedule === 'string' && !!d.retention, '/api/schedule');
}

export async function updateSchedule(update: ScheduleUpdate): Promise<ScheduleResponse> {
  const data = await requestJson<ScheduleResponse>('/api/schedule', {
    method: 'PUT',
    headers: JSON_HEADERS,
    body: JSON.stringify(update),
  });
  return expectShape(data, (d) => typeof d.schedule === 'string' && !!d.retention, '/api/schedule');
}

export async function startDrill(backupId: string): Promise<DrillStartResponse> {
  return requestJson<DrillStartResponse>(`${API_BASE}/${encodeURIComponent(backupId)}/drill`, { method: 'POST' });
}

export async function listDrills(): Promise<DrillListResponse> {
  const data = await requestJson<DrillListResponse>('/api/drills', { method: 'GET' });
  return expectShape(data, (d) => Array.isArray(d.drills), '/api/drills');
}

export async function getDrill(drillId: string): Promise<DrillResult> {
  return requestJson<DrillResult>(`/api/drills/${encodeURIComponent(drillId)}`, { method: 'GET' });
}

// ---------------------------------------------------------------------------
// Download with the API key (a plain link cannot send a header)
// ---------------------------------------------------------------------------

/** The file name from a Content-Disposition header, if it names one. */
export function filenameFromDisposition(header: string | null): string | null {
  if (!header) return null;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''));
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/.exec(header);
  if (plain) return (plain[2] ?? plain[1]).trim();
  return null;
}

/** Fetches a backup archive (with the API key) as a Blob and the server's file name. */
export async function fetchBackupFile(jobId: string): Promise<{ blob: Blob; filename: string }> {
  const res = await apiFetch(getBackupDownloadUrl(jobId), { method: 'GET' });
  const blob = await res.blob();
  const filename = filenameFromDisposition(res.headers.get('Content-Disposition')) ?? `backup-${jobId}.zip`;
  return { blob, filename };
}
