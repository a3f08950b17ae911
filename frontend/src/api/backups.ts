/**
 * Backups (the seed's endpoints, plus pinning):
 *
 *   POST   /api/backup              create a backup job
 *   GET    /api/backup              list backups
 *   GET    /api/backup/:id          one backup job (its status while it runs)
 *   GET    /api/backup/:id/download the archive (see downloads.ts for the fetch with a key)
 *   DELETE /api/backup/:id          delete a backup
 *   PATCH  /api/backup/:id          pin or unpin it ({"pinned": bool})
 */

import type { BackupJob, BackupJobStartResponse, BackupListResponse } from '../types/backup';
import { API_BASE, apiFetch, backupPath, JSON_HEADERS, requestJson } from './client';

export async function createBackup(): Promise<BackupJobStartResponse> {
  return requestJson<BackupJobStartResponse>(API_BASE, { method: 'POST' });
}

export async function listBackups(): Promise<BackupListResponse> {
  return requestJson<BackupListResponse>(API_BASE, { method: 'GET' });
}

export async function getBackupJob(jobId: string): Promise<BackupJob> {
  return requestJson<BackupJob>(backupPath(jobId), { method: 'GET' });
}

export function getBackupDownloadUrl(jobId: string): string {
  return backupPath(jobId, '/download');
}

export async function deleteBackup(jobId: string): Promise<void> {
  await apiFetch(backupPath(jobId), { method: 'DELETE' });
}

export async function setBackupPinned(jobId: string, pinned: boolean): Promise<BackupJob> {
  return requestJson<BackupJob>(backupPath(jobId), {
    method: 'PATCH',
    headers: JSON_HEADERS,
    body: JSON.stringify({ pinned }),
  });
}
