/**
 * Restores:
 *
 *   POST /api/backup/restore      upload an archive and restore it (multipart; optional form
 *                                 fields tables, safety_backup, dry_run)
 *   GET  /api/backup/restore/:id  one restore job
 *   POST /api/backup/:id/restore  restore a saved backup ({"tables", "safety_backup", "dry_run"})
 */

import type { RestoreJob, RestoreJobStartResponse, RestoreOptions } from '../types/backup';
import { API_BASE, backupPath, JSON_HEADERS, requestJson } from './client';

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

/**
 * Restores a saved backup straight from the store. With `dry_run` the job only reports
 * `changes`; `tables` restricts the restore to those tables; `safety_backup` (server default
 * true) first backs up the rows being replaced, and the job's `safety_backup_id` then undoes it.
 */
export async function restoreBackup(backupId: string, options: RestoreOptions = {}): Promise<RestoreJobStartResponse> {
  return requestJson<RestoreJobStartResponse>(backupPath(backupId, '/restore'), {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify(options),
  });
}
