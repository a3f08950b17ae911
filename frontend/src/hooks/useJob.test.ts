import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { createElement } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { detail, json, stubFetch } from '../test/fetchStub';
import { BACKUP_ID, backupJob, RESTORE_ID, restoreJob } from '../test/fixtures';
import type { BackupJobStatus } from '../types/backup';
import type { JobPhase } from './useJob';
import { hasEnded, isBusy, useJob, useRefreshBackupList } from './useJob';

const POLL = 20;

function wrapperFor(client: QueryClient) {
  return ({ children }: { children: ReactNode }) => createElement(QueryClientProvider, { client }, children);
}

function newClient(): QueryClient {
  return new QueryClient({ defaultOptions: { queries: { retry: false, gcTime: Infinity } } });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('useJob phase', () => {
  it('is idle without an id, waiting for the first status, active while it runs, done once completed', async () => {
    const statuses: BackupJobStatus[] = ['pending', 'running', 'completed'];
    let polls = 0;
    stubFetch(() => json(backupJob(statuses[Math.min(polls++, statuses.length - 1)])));
    const seen: JobPhase[] = [];
    const { result, rerender } = renderHook(
      ({ id }: { id: string | null }) => {
        const job = useJob('backup', id, { pollInterval: POLL });
        if (seen[seen.length - 1] !== job.phase) seen.push(job.phase);
        return job;
      },
      { wrapper: wrapperFor(newClient()), initialProps: { id: null as string | null } },
    );
    expect(result.current.phase).toBe('idle');
    rerender({ id: BACKUP_ID });
    await waitFor(() => expect(result.current.phase).toBe('done'));
    expect(seen).toEqual(['idle', 'waiting', 'active', 'done']);
  });

  it('is starting while the request that starts a job is on its way, even with an earlier job shown', async () => {
    stubFetch(() => json(backupJob('completed')));
    const { result, rerender } = renderHook(
      ({ starting }: { starting: boolean }) => useJob('backup', BACKUP_ID, { starting, pollInterval: POLL }),
      { wrapper: wrapperFor(newClient()), initialProps: { starting: false } },
    );
    await waitFor(() => expect(result.current.phase).toBe('done'));
    rerender({ starting: true });
    expect(result.current.phase).toBe('starting');
    expect(result.current.data?.status).toBe('completed');
  });

  it('is failed when the job failed, and when its status cannot be read', async () => {
    stubFetch((call) =>
      call.url.endsWith(RESTORE_ID) ? json(restoreJob('failed')) : detail(404, `Backup job not found: ${BACKUP_ID}`),
    );
    const client = newClient();
    const restore = renderHook(() => useJob('restore', RESTORE_ID, { pollInterval: POLL }), {
      wrapper: wrapperFor(client),
    });
    const unknown = renderHook(() => useJob('backup', BACKUP_ID, { pollInterval: POLL }), {
      wrapper: wrapperFor(client),
    });
    await waitFor(() => expect(restore.result.current.phase).toBe('failed'));
    await waitFor(() => expect(unknown.result.current.phase).toBe('failed'));
    expect(unknown.result.current.error?.message).toBe(`Backup job not found: ${BACKUP_ID}`);
  });

  it('says which phases hold the page and which have ended', () => {
    const phases: JobPhase[] = ['idle', 'starting', 'waiting', 'active', 'done', 'failed'];
    expect(phases.filter(isBusy)).toEqual(['starting', 'waiting', 'active']);
    expect(phases.filter(hasEnded)).toEqual(['done', 'failed']);
  });
});

describe('useRefreshBackupList', () => {
  it('refreshes the list on each new event; with sinceFirst the first one is only the starting point', () => {
    const client = newClient();
    const invalidate = vi.spyOn(client, 'invalidateQueries');
    const { rerender } = renderHook(
      ({ event, sinceFirst }: { event: string | undefined; sinceFirst: boolean }) =>
        useRefreshBackupList(event, { sinceFirst }),
      { wrapper: wrapperFor(client), initialProps: { event: undefined as string | undefined, sinceFirst: true } },
    );
    rerender({ event: 'none:', sinceFirst: true });
    expect(invalidate).not.toHaveBeenCalled();
    rerender({ event: 'none:', sinceFirst: true });
    expect(invalidate).not.toHaveBeenCalled();
    rerender({ event: `${BACKUP_ID}:running`, sinceFirst: true });
    expect(invalidate).toHaveBeenCalledTimes(1);
    rerender({ event: `${BACKUP_ID}:completed`, sinceFirst: true });
    expect(invalidate).toHaveBeenCalledTimes(2);
    expect(invalidate).toHaveBeenLastCalledWith({ queryKey: ['backup', 'list'] });
  });
});
