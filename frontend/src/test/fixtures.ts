import type { BackupJob, BackupJobStatus, RestoreJob, RestoreJobStatus } from '../types/backup';

export const BACKUP_ID = '019478a1-b2c3-7def-8901-234567890abc';
export const RESTORE_ID = '019478a1-ffff-7def-8901-234567890abc';

export function backupJob(status: BackupJobStatus, overrides: Partial<BackupJob> = {}): BackupJob {
  const done = status === 'completed';
  return {
    id: BACKUP_ID,
    status,
    progress: {
      total_tables: 8,
      completed_tables: done ? 8 : status === 'running' ? 3 : 0,
      progress_percent: done ? 100 : status === 'running' ? 40 : 0,
      current_step: status === 'running' ? 'Exporting events' : null,
    },
    created_at: '2026-11-26T10:00:00Z',
    started_at: status === 'pending' ? null : '2026-11-26T10:00:01Z',
    completed_at: done || status === 'failed' ? '2026-11-26T10:00:05Z' : null,
    file_path: done ? `/var/lib/backupd/backups/backup-${BACKUP_ID}.zip` : null,
    file_size_bytes: done ? 123456 : null,
    manifest: done
      ? {
          backup_id: BACKUP_ID,
          version: '1.0',
          created_at: '2026-11-26T10:00:01Z',
          app_version: '0.1.0',
          contents: { events: { count: 200, checksum: 'ab'.repeat(32) } },
        }
      : null,
    error_message: status === 'failed' ? 'disk full' : null,
    trigger: 'manual',
    pinned: false,
    encrypted: false,
    warnings: [],
    reuse: null,
    ...overrides,
  };
}

export function restoreJob(status: RestoreJobStatus, overrides: Partial<RestoreJob> = {}): RestoreJob {
  const done = status === 'completed';
  return {
    id: RESTORE_ID,
    status,
    progress: {
      total_tables: 8,
      completed_tables: done ? 8 : status === 'restoring' ? 4 : 0,
      progress_percent: done ? 100 : status === 'restoring' ? 60 : status === 'validating' ? 20 : 0,
      current_step: status === 'validating' ? 'Verifying checksums' : status === 'restoring' ? 'Restoring events' : null,
    },
    backup_id: BACKUP_ID,
    backup_created_at: '2026-11-26T10:00:01Z',
    created_at: '2026-11-26T11:00:00Z',
    started_at: status === 'pending' ? null : '2026-11-26T11:00:01Z',
    completed_at: done || status === 'failed' ? '2026-11-26T11:00:09Z' : null,
    items_restored: done ? { events: 200, alerts: 40, settings: 5 } : null,
    error_message: status === 'failed' ? 'Checksum mismatch for events: expected aa, got bb' : null,
    dry_run: false,
    tables: null,
    safety_backup_id: null,
    changes: null,
    ...overrides,
  };
}
