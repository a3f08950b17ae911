/**
 * TanStack Query hooks for backup/restore operations.
 *
 * Query Keys:
 *   ['backup'] - base key
 *   ['backup', 'list'] - backup list
 *   ['backup', 'job', jobId] - specific backup job
 *   ['backup', 'restore', jobId] - specific restore job
 *
 * Hooks:
 *   useBackupList() - Fetch list of backups
 *   useBackupJob(jobId, options) - Fetch backup job status with polling
 *   useRestoreJob(jobId, options) - Fetch restore job status with polling
 *   useCreateBackup() - Mutation to create backup
 *   useDeleteBackup() - Mutation to delete backup
 *   useStartRestore() - Mutation to start restore from file
 *   useRestoreBackup() - Mutation to restore a saved backup (CONTRACT §11: tables, safety_backup, dry_run)
 *   useRestorePreview(backupId) - Starts a dry run of a saved backup and polls it (what a restore would change)
 *
 * Job hooks poll every `pollInterval` ms (default 1 s) while the job is active
 * (backup: pending/running; restore: pending/validating/restoring) and stop as
 * soon as it is completed or failed. Mutations invalidate ['backup', 'list'], and so
 * does a restore (not a dry run) when it ends: its safety backup joins the list.
 */

import { useCallback, useEffect, useRef } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Query } from '@tanstack/react-query';

import {
  ApiError,
  createBackup,
  deleteBackup,
  getBackupJob,
  getRestoreJob,
  listBackups,
  restoreBackup,
  startRestore,
} from '../services/backupApi';
import type {
  BackupJob,
  BackupJobStartResponse,
  BackupJobStatus,
  BackupListResponse,
  RestoreJob,
  RestoreJobStartResponse,
  RestoreJobStatus,
  RestoreOptions,
} from '../types/backup';

export const BACKUP_QUERY_KEYS = {
  all: ['backup'] as const,
  list: ['backup', 'list'] as const,
  job: (id: string) => ['backup', 'job', id] as const,
  restore: (id: string) => ['backup', 'restore', id] as const,
};

export const DEFAULT_POLL_INTERVAL_MS = 1000;

export const ACTIVE_BACKUP_STATUSES: readonly BackupJobStatus[] = ['pending', 'running'];
export const ACTIVE_RESTORE_STATUSES: readonly RestoreJobStatus[] = ['pending', 'validating', 'restoring'];

export function isBackupActive(status: BackupJobStatus | undefined | null): boolean {
  return !!status && ACTIVE_BACKUP_STATUSES.includes(status);
}

export function isRestoreActive(status: RestoreJobStatus | undefined | null): boolean {
  return !!status && ACTIVE_RESTORE_STATUSES.includes(status);
}

export interface JobQueryOptions {
  /** Set false to not fetch at all (the hook is also idle while jobId is empty). */
  enabled?: boolean;
  /** Polling interval while the job is active, in ms (default 1000). */
  pollInterval?: number;
}

/** A 4xx answer (404 unknown job, 401 no key) will not get better by asking again. */
function isClientError(error: unknown): boolean {
  return error instanceof ApiError && error.status >= 400 && error.status < 500;
}

function pollWhile<T extends { status: string }>(
  isActive: (status: T['status']) => boolean,
  interval: number,
) {
  return (query: Query<T, Error, T, readonly unknown[]>): number | false => {
    const { data, error } = query.state;
    if (error && isClientError(error)) return false;
    if (!data) return interval; // not loaded yet (or a transient error): keep asking
    return isActive(data.status) ? interval : false;
  };
}

export function useBackupList() {
  return useQuery<BackupListResponse, Error>({
    queryKey: BACKUP_QUERY_KEYS.list,
    queryFn: listBackups,
  });
}

export function useBackupJob(jobId: string | null | undefined, options: JobQueryOptions = {}) {
  const { enabled = true, pollInterval = DEFAULT_POLL_INTERVAL_MS } = options;
  const queryClient = useQueryClient();
  const query = useQuery<BackupJob, Error, BackupJob, readonly unknown[]>({
    queryKey: BACKUP_QUERY_KEYS.job(jobId ?? ''),
    queryFn: () => getBackupJob(jobId as string),
    enabled: enabled && !!jobId,
    refetchInterval: pollWhile<BackupJob>((s) => isBackupActive(s), pollInterval),
    refetchIntervalInBackground: true,
  });

  // A backup that has just finished appears in (completed) or stays out of (failed) the list.
  const status = query.data?.status;
  const previous = useRef<BackupJobStatus | undefined>(undefined);
  useEffect(() => {
    const was = previous.current;
    previous.current = status;
    if (status && !isBackupActive(status) && was !== status) {
      void queryClient.invalidateQueries({ queryKey: BACKUP_QUERY_KEYS.list });
    }
  }, [status, queryClient]);

  return query;
}

export function useRestoreJob(jobId: string | null | undefined, options: JobQueryOptions = {}) {
  const { enabled = true, pollInterval = DEFAULT_POLL_INTERVAL_MS } = options;
  const queryClient = useQueryClient();
  const query = useQuery<RestoreJob, Error, RestoreJob, readonly unknown[]>({
    queryKey: BACKUP_QUERY_KEYS.restore(jobId ?? ''),
    queryFn: () => getRestoreJob(jobId as string),
    enabled: enabled && !!jobId,
    refetchInterval: pollWhile<RestoreJob>((s) => isRestoreActive(s), pollInterval),
    refetchIntervalInBackground: true,
  });

  // A restore that has just ended may have left a safety backup in the list (a dry run never does).
  const status = query.data?.status;
  const dryRun = !!query.data?.dry_run;
  const previous = useRef<RestoreJobStatus | undefined>(undefined);
  useEffect(() => {
    const was = previous.current;
    previous.current = status;
    if (status && !dryRun && !isRestoreActive(status) && was !== status) {
      void queryClient.invalidateQueries({ queryKey: BACKUP_QUERY_KEYS.list });
    }
  }, [status, dryRun, queryClient]);

  return query;
}

export function useCreateBackup() {
  const queryClient = useQueryClient();
  return useMutation<BackupJobStartResponse, Error, void>({
    mutationFn: () => createBackup(),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: BACKUP_QUERY_KEYS.list }),
  });
}

export function useDeleteBackup() {
  const queryClient = useQueryClient();
  return useMutation<void, Error, string>({
    mutationFn: (jobId: string) => deleteBackup(jobId),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: BACKUP_QUERY_KEYS.list }),
  });
}

/** What useStartRestore takes: the file alone, or the file and the restore's options. */
export type StartRestoreVariables = File | { file: File; options?: RestoreOptions };

export function useStartRestore() {
  const queryClient = useQueryClient();
  return useMutation<RestoreJobStartResponse, Error, StartRestoreVariables>({
    mutationFn: (vars: StartRestoreVariables) =>
      vars instanceof File ? startRestore(vars) : startRestore(vars.file, vars.options),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: BACKUP_QUERY_KEYS.list }),
  });
}

/**
 * A 409 right after another job ended is usually that job's thread still letting go of the
 * operation lock: ask again a few times before showing the API's message. Nothing was started
 * by a 409, so asking again is safe.
 */
export const BUSY_RETRIES = 6;
export const BUSY_RETRY_MS = 500;

function retryWhileBusy(failureCount: number, error: Error): boolean {
  return error instanceof ApiError && error.status === 409 && failureCount < BUSY_RETRIES;
}

export interface RestoreBackupVariables {
  backupId: string;
  options?: RestoreOptions;
}

/** POST /api/backup/{id}/restore: restore (or, with dry_run, preview) a saved backup. */
export function useRestoreBackup(retryDelayMs: number = BUSY_RETRY_MS) {
  return useMutation<RestoreJobStartResponse, Error, RestoreBackupVariables>({
    mutationFn: ({ backupId, options }) => restoreBackup(backupId, options),
    retry: retryWhileBusy,
    retryDelay: retryDelayMs,
  });
}

export interface RestorePreviewOptions extends JobQueryOptions {
  /** Delay between the retries of a 409 (default BUSY_RETRY_MS). */
  busyRetryMs?: number;
}

/**
 * Starts a dry run of a saved backup once (per backup id) and polls it: `job.data.changes` is
 * then what a real restore would change. `retry()` starts a new dry run after a failure.
 */
export function useRestorePreview(backupId: string | null | undefined, options: RestorePreviewOptions = {}) {
  const { busyRetryMs, ...jobOptions } = options;
  const start = useRestoreBackup(busyRetryMs);
  const { mutate, reset } = start;
  const startedFor = useRef<string | null>(null);

  const run = useCallback(
    (id: string) => {
      startedFor.current = id;
      reset();
      mutate({ backupId: id, options: { dry_run: true } });
    },
    [mutate, reset],
  );

  // Once per backup id (React's StrictMode runs effects twice in development: the ref stops that).
  useEffect(() => {
    if (backupId && startedFor.current !== backupId) run(backupId);
  }, [backupId, run]);

  const job = useRestoreJob(start.data?.job_id, jobOptions);
  const retry = useCallback(() => {
    if (backupId) run(backupId);
  }, [backupId, run]);
  return { start, job, retry };
}
