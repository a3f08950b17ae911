/**
 * Restores: an uploaded file (useStartRestore), a saved backup (useRestoreBackup), its dry-run
 * preview (useRestorePreview), and a restore followed on the page together with its
 * "Undo this restore" (useRestoreRun).
 */

import { useMutation } from '@tanstack/react-query';
import { useCallback, useEffect, useRef } from 'react';

import { ApiError, restoreBackup, startRestore } from '../api';
import type { RestoreJob, RestoreJobStartResponse, RestoreOptions } from '../types/backup';
import { useListMutation } from './useBackup';
import type { JobQuery, JobQueryOptions } from './useJob';
import { hasEnded, isBusy, useJob } from './useJob';

/** What useStartRestore takes: the file alone, or the file and the restore's options. */
export type StartRestoreVariables = File | { file: File; options?: RestoreOptions };

/** Uploads a file and restores it; refreshes the list (its safety backup joins it). */
export function useStartRestore() {
  return useListMutation<RestoreJobStartResponse, StartRestoreVariables>((vars) =>
    vars instanceof File ? startRestore(vars) : startRestore(vars.file, vars.options),
  );
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

  const job = useJob('restore', start.data?.job_id, { ...jobOptions, starting: start.isPending });
  const retry = useCallback(() => {
    if (backupId) run(backupId);
  }, [backupId, run]);
  return { start, job, retry };
}

/** The options of an undo: the tables the restore replaced (none named: all of them), with a safety backup. */
function undoOptions(restore: RestoreJob): RestoreOptions {
  // A subset restore's safety backup holds just those tables: name them, so that the server
  // replaces exactly them (a restore without `tables` expects the whole configured set).
  return restore.tables?.length ? { tables: restore.tables, safety_backup: true } : { safety_backup: true };
}

export interface UndoRestore {
  /** The safety backup of the completed restore; null: it cannot be undone. */
  safetyId: string | null;
  /** The request that starts the undo (its error is shown in the confirmation). */
  start: ReturnType<typeof useRestoreBackup>;
  /** Starts the undo; `onStarted` runs once the server has accepted it. */
  run: (onStarted: () => void) => void;
  /** The undo's job id, once the server has accepted it. */
  jobId: string | null;
  /** The undo's restore job. */
  job: JobQuery<'restore'>;
}

/**
 * "Undo this restore": restores the restore's safety backup (the rows it replaced, saved just
 * before the swap). The undo takes a safety backup of its own: it replaces the same tables
 * again, and anything written to them since the restore would otherwise be gone without a copy.
 */
function useUndoRestore(restore: RestoreJob | undefined): UndoRestore {
  const start = useRestoreBackup();
  const safetyId = restore?.status === 'completed' ? (restore.safety_backup_id ?? null) : null;
  // The undo belongs to this restore: after another restore (another safety backup) it starts afresh.
  const ours = !!safetyId && start.variables?.backupId === safetyId;
  const jobId = ours ? (start.data?.job_id ?? null) : null;
  const job = useJob('restore', jobId, { starting: ours && start.isPending });
  const { mutate } = start;
  const run = useCallback(
    (onStarted: () => void) => {
      if (restore && safetyId) mutate({ backupId: safetyId, options: undoOptions(restore) }, { onSuccess: onStarted });
    },
    [restore, safetyId, mutate],
  );
  return { safetyId, start, run, jobId, job };
}

export interface RestoreRun {
  job: JobQuery<'restore'>;
  undo: UndoRestore;
  /** The restore or its undo is starting or running: the page starts no other restore. */
  busy: boolean;
  /** Both have ended (or the restore's status could not be read): the page may move on. */
  ended: boolean;
}

/** A restore followed on the page (by job id), and its undo. */
export function useRestoreRun(jobId: string | null | undefined, options: JobQueryOptions = {}): RestoreRun {
  const job = useJob('restore', jobId, options);
  const undo = useUndoRestore(job.data);
  const undoBusy = isBusy(undo.job.phase);
  return {
    job,
    undo,
    busy: isBusy(job.phase) || undoBusy,
    ended: (hasEnded(job.phase) || !!job.error) && !undoBusy,
  };
}
