/**
 * Every job status the page knows, in one table per kind of job: which statuses mean the job is
 * still going (the page polls those and holds other actions), and what the page calls each one.
 */

import type { BackupJob, DrillResult, RestoreJob } from '../types/backup';

interface Jobs {
  backup: BackupJob;
  restore: RestoreJob;
  drill: DrillResult;
}

export type JobKind = keyof Jobs;
export type JobOf<K extends JobKind> = Jobs[K];
export type StatusOf<K extends JobKind> = Jobs[K]['status'];

/** The statuses of a job that has not ended yet. */
const ACTIVE: { readonly [K in JobKind]: readonly StatusOf<K>[] } = {
  backup: ['pending', 'running'],
  restore: ['pending', 'validating', 'restoring'],
  drill: ['pending', 'running'],
};

export function isActive<K extends JobKind>(kind: K, status: StatusOf<K> | null | undefined): boolean {
  return !!status && ACTIVE[kind].includes(status);
}

/** The kinds of job the page follows in a progress view (CreateBackupPanel, RestoreJobView). */
export type ProgressKind = 'backup' | 'restore';

/** The badge of a job's own progress view. */
export const STATUS_LABEL: { readonly [K in ProgressKind]: Readonly<Record<StatusOf<K>, string>> } = {
  backup: {
    pending: 'Waiting to start…',
    running: 'Backing up…',
    completed: 'Backup completed',
    failed: 'Backup failed',
  },
  restore: {
    pending: 'Waiting to start…',
    validating: 'Validating the backup…',
    restoring: 'Restoring the data…',
    completed: 'Restore completed',
    failed: 'Restore failed',
  },
};

/** The line under a failed job's progress: "Backup failed: {reason}" plus what it means. */
export const FAILURE_TEXT: { readonly [K in ProgressKind]: { readonly lead: string; readonly after: string } } = {
  backup: { lead: 'Backup failed', after: '' },
  restore: { lead: 'Restore failed', after: ' Nothing was changed.' },
};

/** A status as one word, for a badge in a summary or a list (last scheduled backup, drill history). */
export const STATUS_WORD: { readonly [K in 'backup' | 'drill']: Readonly<Record<StatusOf<K>, string>> } = {
  backup: { pending: 'waiting', running: 'running', completed: 'completed', failed: 'failed' },
  drill: { pending: 'waiting', running: 'running', passed: 'passed', failed: 'failed' },
};

/** The label of a status, or the status itself when the server sent one this page does not know. */
export function statusLabel<K extends ProgressKind>(kind: K, status: StatusOf<K>): string {
  const labels: Readonly<Record<string, string>> = STATUS_LABEL[kind];
  return labels[status] ?? status;
}

/** The one word for a status, or the status itself when this page does not know it. */
export function statusWord<K extends 'backup' | 'drill'>(kind: K, status: StatusOf<K>): string {
  const words: Readonly<Record<string, string>> = STATUS_WORD[kind];
  return words[status] ?? status;
}
