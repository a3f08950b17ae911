/**
 * Downloading an archive with the API key: a plain link cannot send a header, so with a key the
 * file is fetched (GET /api/backup/:id/download) and handed to the browser as a Blob.
 */

import { getBackupDownloadUrl } from './backups';
import { apiFetch } from './client';

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
