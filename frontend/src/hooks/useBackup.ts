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
 *
 * Job hooks poll every `pollInterval` ms (default 1 s) while the job is active
 * (backup: pending/running; restore: pending/validating/restoring) and stop as
 * soon as it is completed or failed. Mutations invalidate ['backup', 'list'].
 */

import { useEffect, useRef } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Query } from '@tanstack/react-query';

import {
  ApiError,
  createBackup,
  deleteBackup,
  getBackupJob,
  getRestoreJob,
  listBackups,
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
  return useQuery<RestoreJob, Error, RestoreJob, readonly unknown[]>({
    queryKey: BACKUP_QUERY_KEYS.restore(jobId ?? ''),
    queryFn: () => getRestoreJob(jobId as string),
    enabled: enabled && !!jobId,
    refetchInterval: pollWhile<RestoreJob>((s) => isRestoreActive(s), pollInterval),
    refetchIntervalInBackground: true,
  });
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

export function useStartRestore() {
  const queryClient = useQueryClient();
  return useMutation<RestoreJobStartResponse, Error, File>({
    mutationFn: (file: File) => startRestore(file),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: BACKUP_QUERY_KEYS.list }),
  });
}
