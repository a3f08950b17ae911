/**
 * Following a job. `useJob(kind, id)` polls a backup or restore job every `pollInterval` ms
 * (default 1 s) while it is active and stops once it has completed or failed (or the server
 * answers 4xx: an unknown job stays unknown); it refreshes the backup list when the job ends
 * (a backup joins the list, a restore's safety backup too; a dry run changes nothing there);
 * and it says where the job is in its life (`phase`), which the page uses instead of flags of
 * its own.
 */

import type { Query, UseQueryResult } from '@tanstack/react-query';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';

import { ApiError, getBackupJob, getRestoreJob } from '../api';
import type { JobOf, ProgressKind } from '../utils/jobStatus';
import { isActive } from '../utils/jobStatus';
import { BACKUP_QUERY_KEYS } from './queryKeys';

export const DEFAULT_POLL_INTERVAL_MS = 1000;

/**
 * Where a job is in its life:
 *   idle      no job, and none being started
 *   starting  the request that starts one is on its way
 *   waiting   it has an id; its first status is not in yet
 *   active    it runs (pending, running, validating, restoring)
 *   done      it has completed
 *   failed    it has failed, or its status could not be read
 */
export type JobPhase = 'idle' | 'starting' | 'waiting' | 'active' | 'done' | 'failed';

/** Starting, waiting for its first status, or running: the page holds other actions. */
export function isBusy(phase: JobPhase): boolean {
  return phase === 'starting' || phase === 'waiting' || phase === 'active';
}

export function hasEnded(phase: JobPhase): boolean {
  return phase === 'done' || phase === 'failed';
}

export interface JobQueryOptions {
  /** Set false to not fetch at all (the hook is also idle while the id is empty). */
  enabled?: boolean;
  /** Polling interval while the job is active, in ms (default 1000). */
  pollInterval?: number;
  /** The request that starts the job is on its way (phase `starting`, whatever the id). */
  starting?: boolean;
}

export type JobQuery<K extends ProgressKind> = UseQueryResult<JobOf<K>, Error> & { phase: JobPhase };

interface Followed<J> {
  queryKey: (id: string) => readonly unknown[];
  fetch: (id: string) => Promise<J>;
  /** Whether the job, once ended, may have changed the backup list. */
  changesList: (job: J) => boolean;
}

const FOLLOWED: { readonly [K in ProgressKind]: Followed<JobOf<K>> } = {
  backup: { queryKey: BACKUP_QUERY_KEYS.job, fetch: getBackupJob, changesList: () => true },
  restore: { queryKey: BACKUP_QUERY_KEYS.restore, fetch: getRestoreJob, changesList: (job) => !job.dry_run },
};

/** A 4xx answer (404 unknown job, 401 no key) will not get better by asking again. */
function isClientError(error: unknown): boolean {
  return error instanceof ApiError && error.status >= 400 && error.status < 500;
}

function phaseOf<K extends ProgressKind>(
  kind: K,
  id: string | null | undefined,
  starting: boolean,
  { data, error }: UseQueryResult<JobOf<K>, Error>,
): JobPhase {
  if (starting) return 'starting';
  if (!id) return 'idle';
  if (data) {
    if (isActive(kind, data.status)) return 'active';
    return data.status === 'completed' ? 'done' : 'failed';
  }
  return error ? 'failed' : 'waiting';
}

export function useJob<K extends ProgressKind>(
  kind: K,
  id: string | null | undefined,
  options: JobQueryOptions = {},
): JobQuery<K> {
  const { enabled = true, pollInterval = DEFAULT_POLL_INTERVAL_MS, starting = false } = options;
  const followed: Followed<JobOf<K>> = FOLLOWED[kind];
  const query = useQuery<JobOf<K>, Error, JobOf<K>, readonly unknown[]>({
    queryKey: followed.queryKey(id ?? ''),
    queryFn: () => followed.fetch(id ?? ''), // runs only with an id (enabled)
    enabled: enabled && !!id,
    refetchInterval: (q: Query<JobOf<K>, Error, JobOf<K>, readonly unknown[]>) => {
      const { data, error } = q.state;
      if (error && isClientError(error)) return false;
      if (!data) return pollInterval; // not loaded yet (or a transient error): keep asking
      return isActive(kind, data.status) ? pollInterval : false;
    },
    refetchIntervalInBackground: true,
  });

  const { data } = query;
  const ended = !!data && !isActive(kind, data.status) && followed.changesList(data);
  useRefreshBackupList(ended ? `${data.id}:${data.status}` : undefined);

  // The spread reads every field of TanStack's tracked result, so the caller re-renders on each
  // poll rather than only when the job changes: one render a second while a job runs.
  return { ...query, phase: phaseOf(kind, id, starting, query) };
}

export interface RefreshOptions {
  /** The first value seen is only the starting point (the list was loaded with it). */
  sinceFirst?: boolean;
}

/**
 * Refreshes the backup list each time `event` takes a new value, e.g. "<job id>:completed";
 * undefined means there is nothing to report.
 */
export function useRefreshBackupList(event: string | undefined, { sinceFirst = false }: RefreshOptions = {}): void {
  const queryClient = useQueryClient();
  const previous = useRef<string | undefined>(undefined);
  useEffect(() => {
    const was = previous.current;
    previous.current = event;
    if (event === undefined || event === was || (sinceFirst && was === undefined)) return;
    void queryClient.invalidateQueries({ queryKey: BACKUP_QUERY_KEYS.list });
  }, [event, sinceFirst, queryClient]);
}
