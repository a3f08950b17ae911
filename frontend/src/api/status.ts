/**
 * Status and notifications (docs/operations.md):
 *
 *   GET  /api/status        last backup and drill, stale or not, notification targets and last error,
 *                           the recent backups (the chart)
 *   POST /api/notify/test   send a test notification (202; 400 when none is configured)
 *
 * Targets come as `#1 json://host…`: the server never sends a URL's secrets.
 */

import { expectShape, requestJson } from './client';

export interface StatusBackup {
  id: string;
  status: 'pending' | 'running' | 'completed' | 'failed';
  trigger: 'manual' | 'schedule' | 'safety';
  created_at: string;
  completed_at: string | null;
  age_seconds: number | null;
  duration_seconds: number | null;
  size_bytes: number | null;
  /** Rows copied from the previous backup, proved unchanged, and rows read (null: not recorded). */
  rows_reused: number | null;
  rows_read: number | null;
}

export interface StatusDrill {
  id: string;
  backup_id: string;
  status: 'pending' | 'running' | 'passed' | 'failed';
  completed_at: string | null;
  error_message: string | null;
}

export interface NotifyStatus {
  configured: boolean;
  targets: string[];
  ping_configured: boolean;
  last_error: string | null;
  undelivered: number;
}

export interface StatusResponse {
  last_backup: StatusBackup | null;
  last_drill: StatusDrill | null;
  stale: boolean;
  stale_after: string;
  notify: NotifyStatus;
  timezone: string;
  next_backup_at: string | null;
  recent_backups: StatusBackup[];
}

export interface NotifyTestResponse {
  queued: number;
}

export const STATUS_PATH = '/api/status';
export const NOTIFY_TEST_PATH = '/api/notify/test';

export async function getStatus(): Promise<StatusResponse> {
  const data = await requestJson<StatusResponse>(STATUS_PATH, { method: 'GET' });
  return expectShape(data, (d) => typeof d.stale === 'boolean' && Array.isArray(d.recent_backups), STATUS_PATH);
}

export async function sendTestNotification(): Promise<NotifyTestResponse> {
  return requestJson<NotifyTestResponse>(NOTIFY_TEST_PATH, { method: 'POST' });
}
