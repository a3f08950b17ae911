import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { createElement } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { setApiKeyPrompt } from '../api';
import type { RecordedCall } from '../test/fetchStub';
import { detail, json, stubFetch } from '../test/fetchStub';
import { BACKUP_ID, backupJob, RESTORE_ID, restoreJob } from '../test/fixtures';
import type { BackupJobStatus, BackupListResponse, RestoreJobStatus } from '../types/backup';
import { BACKUP_QUERY_KEYS } from './queryKeys';
import { useBackupList, useCreateBackup, useDeleteBackup } from './useBackup';
import { DEFAULT_POLL_INTERVAL_MS, useJob } from './useJob';
import { BUSY_RETRIES, useRestoreBackup, useRestorePreview, useStartRestore } from './useRestore';

const POLL = 20; // ms: fast polling for the tests

function newClient(): QueryClient {
  return new QueryClient({
    defaultOptions: { queries: { retry: false, gcTime: Infinity }, mutations: { retry: false } },
  });
}

function wrapperFor(client: QueryClient) {
  return ({ children }: { children: ReactNode }) => createElement(QueryClientProvider, { client }, children);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (on the real setTimeout) until `check` passes; unlike vi.waitFor it never moves fake clocks. */
async function until(check: () => void, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(5);
    }
  }
}

const EMPTY_LIST: BackupListResponse = { backups: [], total: 0 };

function countOf(calls: RecordedCall[], method: string, url: string): number {
  return calls.filter((c) => c.method === method && c.url === url).length;
}

/** A server whose backup job moves through `statuses`, one per GET, then stays on the last. */
function backupServer(statuses: BackupJobStatus[]) {
  let i = 0;
  return stubFetch((call) => {
    if (call.url === '/api/backup' && call.method === 'GET') return json(EMPTY_LIST);
    if (call.url === `/api/backup/${BACKUP_ID}`) {
      const status = statuses[Math.min(i, statuses.length - 1)];
      i++;
      return json(backupJob(status));
    }
    return detail(404, `unexpected ${call.method} ${call.url}`);
  });
}

function restoreServer(statuses: RestoreJobStatus[]) {
  let i = 0;
  return stubFetch((call) => {
    if (call.url === `/api/backup/restore/${RESTORE_ID}`) {
      const status = statuses[Math.min(i, statuses.length - 1)];
      i++;
      return json(restoreJob(status));
    }
    return detail(404, `unexpected ${call.method} ${call.url}`);
  });
}

beforeEach(() => {
  sessionStorage.clear();
  setApiKeyPrompt(null);
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('BACKUP_QUERY_KEYS', () => {
  it('matches the seed', () => {
    expect(BACKUP_QUERY_KEYS.all).toEqual(['backup']);
    expect(BACKUP_QUERY_KEYS.list).toEqual(['backup', 'list']);
    expect(BACKUP_QUERY_KEYS.job('abc')).toEqual(['backup', 'job', 'abc']);
    expect(BACKUP_QUERY_KEYS.restore('abc')).toEqual(['backup', 'restore', 'abc']);
  });
});

describe('useBackupList', () => {
  it('GETs /api/backup into the list key', async () => {
    const list: BackupListResponse = {
      backups: [
        {
          id: BACKUP_ID,
          created_at: '2026-11-26T10:00:00Z',
          file_size_bytes: 2048,
          status: 'completed',
          download_url: `/api/backup/${BACKUP_ID}/download`,
          trigger: 'manual',
          pinned: false,
          encrypted: false,
          reuse: null,
        },
      ],
      total: 1,
    };
    const calls = stubFetch(() => json(list));
    const client = newClient();
    const { result } = renderHook(() => useBackupList(), { wrapper: wrapperFor(client) });
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    expect(result.current.data).toEqual(list);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /api/backup']);
    expect(client.getQueryData(BACKUP_QUERY_KEYS.list)).toEqual(list);
  });

  it('exposes the API detail text as the error', async () => {
    stubFetch(() => detail(503, 'Database unavailable'));
    const { result } = renderHook(() => useBackupList(), { wrapper: wrapperFor(newClient()) });
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(result.current.error?.message).toBe('Database unavailable');
  });
});

describe('useBackupJob polling', () => {
  it('does nothing without a job id', async () => {
    const calls = backupServer(['running']);
    const { result } = renderHook(() => useJob('backup', null, { pollInterval: POLL }), { wrapper: wrapperFor(newClient()) });
    await sleep(POLL * 5);
    expect(calls).toHaveLength(0);
    expect(result.current.fetchStatus).toBe('idle');
  });

  it('polls while pending/running and stops once completed', async () => {
    const calls = backupServer(['pending', 'running', 'running', 'completed']);
    const client = newClient();
    const seen: BackupJobStatus[] = [];
    const { result } = renderHook(
      () => {
        const q = useJob('backup', BACKUP_ID, { pollInterval: POLL });
        if (q.data && seen[seen.length - 1] !== q.data.status) seen.push(q.data.status);
        return q;
      },
      { wrapper: wrapperFor(client) },
    );
    await waitFor(() => expect(result.current.data?.status).toBe('completed'));
    expect(seen).toEqual(['pending', 'running', 'completed']);
    const jobCalls = countOf(calls, 'GET', `/api/backup/${BACKUP_ID}`);
    expect(jobCalls).toBe(4);
    await sleep(POLL * 8);
    expect(countOf(calls, 'GET', `/api/backup/${BACKUP_ID}`)).toBe(jobCalls);
    expect(client.getQueryData(BACKUP_QUERY_KEYS.job(BACKUP_ID))).toMatchObject({ status: 'completed' });
  });

  it('stops polling once failed and shows the error message', async () => {
    const calls = backupServer(['running', 'failed']);
    const { result } = renderHook(() => useJob('backup', BACKUP_ID, { pollInterval: POLL }), {
      wrapper: wrapperFor(newClient()),
    });
    await waitFor(() => expect(result.current.data?.status).toBe('failed'));
    expect(result.current.data?.error_message).toBe('disk full');
    await sleep(POLL * 8);
    expect(countOf(calls, 'GET', `/api/backup/${BACKUP_ID}`)).toBe(2);
  });

  it('does not poll a job that is already completed', async () => {
    const calls = backupServer(['completed']);
    const { result } = renderHook(() => useJob('backup', BACKUP_ID, { pollInterval: POLL }), {
      wrapper: wrapperFor(newClient()),
    });
    await waitFor(() => expect(result.current.data?.status).toBe('completed'));
    await sleep(POLL * 8);
    expect(countOf(calls, 'GET', `/api/backup/${BACKUP_ID}`)).toBe(1);
  });

  it('stops polling on a 404 and surfaces its detail', async () => {
    const calls = stubFetch(() => detail(404, `Backup job not found: ${BACKUP_ID}`));
    const { result } = renderHook(() => useJob('backup', BACKUP_ID, { pollInterval: POLL }), {
      wrapper: wrapperFor(newClient()),
    });
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(result.current.error?.message).toBe(`Backup job not found: ${BACKUP_ID}`);
    await sleep(POLL * 8);
    expect(calls).toHaveLength(1);
  });

  it('polls every second by default', async () => {
    expect(DEFAULT_POLL_INTERVAL_MS).toBe(1000);
    // Only the interval timer is faked: setTimeout stays real, and `until` does not move the clock.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const calls = backupServer(['running']);
    const { result } = renderHook(() => useJob('backup', BACKUP_ID), { wrapper: wrapperFor(newClient()) });
    await until(() => expect(result.current.data?.status).toBe('running'));
    expect(calls).toHaveLength(1);
    await act(async () => {
      vi.advanceTimersByTime(990);
    });
    await sleep(20);
    expect(calls).toHaveLength(1);
    await act(async () => {
      vi.advanceTimersByTime(20);
    });
    await until(() => expect(calls).toHaveLength(2));
    await act(async () => {
      vi.advanceTimersByTime(1000);
    });
    await until(() => expect(calls).toHaveLength(3));
  });

  it('refreshes the backup list when the job finishes, not while it runs', async () => {
    let status: BackupJobStatus = 'running';
    const calls = stubFetch((call) => {
      if (call.url === '/api/backup') return json(EMPTY_LIST);
      return json(backupJob(status));
    });
    const client = newClient();
    const { result } = renderHook(
      () => ({ list: useBackupList(), job: useJob('backup', BACKUP_ID, { pollInterval: POLL }) }),
      { wrapper: wrapperFor(client) },
    );
    await waitFor(() => expect(result.current.list.isSuccess).toBe(true));
    await waitFor(() => expect(result.current.job.data?.status).toBe('running'));
    await until(() => expect(countOf(calls, 'GET', `/api/backup/${BACKUP_ID}`)).toBeGreaterThanOrEqual(3));
    expect(countOf(calls, 'GET', '/api/backup')).toBe(1);
    status = 'completed';
    await waitFor(() => expect(result.current.job.data?.status).toBe('completed'));
    await waitFor(() => expect(countOf(calls, 'GET', '/api/backup')).toBe(2));
    await sleep(POLL * 5);
    expect(countOf(calls, 'GET', '/api/backup')).toBe(2);
  });
});

describe('useRestoreJob polling', () => {
  it('polls through pending, validating and restoring, and stops once completed', async () => {
    const calls = restoreServer(['pending', 'validating', 'validating', 'restoring', 'restoring', 'completed']);
    const seen: RestoreJobStatus[] = [];
    const { result } = renderHook(
      () => {
        const q = useJob('restore', RESTORE_ID, { pollInterval: POLL });
        if (q.data && seen[seen.length - 1] !== q.data.status) seen.push(q.data.status);
        return q;
      },
      { wrapper: wrapperFor(newClient()) },
    );
    await waitFor(() => expect(result.current.data?.status).toBe('completed'));
    expect(seen).toEqual(['pending', 'validating', 'restoring', 'completed']);
    expect(result.current.data?.items_restored).toEqual({ events: 200, alerts: 40, settings: 5 });
    expect(calls).toHaveLength(6);
    expect(calls.every((c) => c.method === 'GET' && c.url === `/api/backup/restore/${RESTORE_ID}`)).toBe(true);
    await sleep(POLL * 8);
    expect(calls).toHaveLength(6);
  });

  it('stops polling once failed and keeps the error message', async () => {
    const calls = restoreServer(['validating', 'failed']);
    const { result } = renderHook(() => useJob('restore', RESTORE_ID, { pollInterval: POLL }), {
      wrapper: wrapperFor(newClient()),
    });
    await waitFor(() => expect(result.current.data?.status).toBe('failed'));
    expect(result.current.data?.error_message).toBe('Checksum mismatch for events: expected aa, got bb');
    await sleep(POLL * 8);
    expect(calls).toHaveLength(2);
  });

  it('does nothing when disabled', async () => {
    const calls = restoreServer(['restoring']);
    renderHook(() => useJob('restore', RESTORE_ID, { enabled: false, pollInterval: POLL }), {
      wrapper: wrapperFor(newClient()),
    });
    await sleep(POLL * 5);
    expect(calls).toHaveLength(0);
  });
});

describe('mutations', () => {
  it('useCreateBackup POSTs /api/backup and invalidates the list', async () => {
    const calls = stubFetch((call) => {
      if (call.method === 'POST' && call.url === '/api/backup') {
        return json({ job_id: BACKUP_ID, status: 'pending', message: 'Backup job created.' }, 202);
      }
      if (call.method === 'GET' && call.url === '/api/backup') return json(EMPTY_LIST);
      return detail(404, 'unexpected');
    });
    const client = newClient();
    const invalidate = vi.spyOn(client, 'invalidateQueries');
    const { result } = renderHook(() => ({ list: useBackupList(), create: useCreateBackup() }), {
      wrapper: wrapperFor(client),
    });
    await waitFor(() => expect(result.current.list.isSuccess).toBe(true));
    let response: unknown;
    await act(async () => {
      response = await result.current.create.mutateAsync();
    });
    expect(response).toEqual({ job_id: BACKUP_ID, status: 'pending', message: 'Backup job created.' });
    expect(countOf(calls, 'POST', '/api/backup')).toBe(1);
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ['backup', 'list'] });
    await waitFor(() => expect(countOf(calls, 'GET', '/api/backup')).toBe(2));
  });

  it('useCreateBackup exposes a 409 with its detail and does not invalidate', async () => {
    stubFetch(() => detail(409, 'A restore is running; try again when it has finished'));
    const client = newClient();
    const invalidate = vi.spyOn(client, 'invalidateQueries');
    const { result } = renderHook(() => useCreateBackup(), { wrapper: wrapperFor(client) });
    act(() => result.current.mutate());
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(result.current.error?.message).toBe('A restore is running; try again when it has finished');
    expect(invalidate).not.toHaveBeenCalled();
  });

  it('useDeleteBackup DELETEs /api/backup/{id} and invalidates the list', async () => {
    let listed = true;
    const calls = stubFetch((call) => {
      if (call.method === 'DELETE' && call.url === `/api/backup/${BACKUP_ID}`) {
        listed = false;
        return json({ deleted: true });
      }
      if (call.method === 'GET' && call.url === '/api/backup') {
        return json(
          listed
            ? {
                backups: [
                  {
                    id: BACKUP_ID,
                    created_at: '2026-11-26T10:00:00Z',
                    file_size_bytes: 10,
                    status: 'completed',
                    download_url: `/api/backup/${BACKUP_ID}/download`,
                  },
                ],
                total: 1,
              }
            : EMPTY_LIST,
        );
      }
      return detail(404, 'unexpected');
    });
    const client = newClient();
    const invalidate = vi.spyOn(client, 'invalidateQueries');
    const { result } = renderHook(() => ({ list: useBackupList(), remove: useDeleteBackup() }), {
      wrapper: wrapperFor(client),
    });
    await waitFor(() => expect(result.current.list.data?.total).toBe(1));
    await act(async () => {
      await result.current.remove.mutateAsync(BACKUP_ID);
    });
    expect(countOf(calls, 'DELETE', `/api/backup/${BACKUP_ID}`)).toBe(1);
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ['backup', 'list'] });
    await waitFor(() => expect(result.current.list.data?.total).toBe(0));
  });

  it('useDeleteBackup surfaces a 404 detail', async () => {
    stubFetch(() => detail(404, `Backup job not found: ${BACKUP_ID}`));
    const { result } = renderHook(() => useDeleteBackup(), { wrapper: wrapperFor(newClient()) });
    act(() => result.current.mutate(BACKUP_ID));
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(result.current.error?.message).toBe(`Backup job not found: ${BACKUP_ID}`);
  });

  it('useStartRestore uploads the file and invalidates the list', async () => {
    const calls = stubFetch((call) => {
      if (call.method === 'POST' && call.url === '/api/backup/restore') {
        return json({ job_id: RESTORE_ID, status: 'pending', message: 'Restore job created.' }, 202);
      }
      return detail(404, 'unexpected');
    });
    const client = newClient();
    const invalidate = vi.spyOn(client, 'invalidateQueries');
    const { result } = renderHook(() => useStartRestore(), { wrapper: wrapperFor(client) });
    const file = new File([new Uint8Array([0x50, 0x4b, 3, 4])], 'backup.zip', { type: 'application/zip' });
    await act(async () => {
      await result.current.mutateAsync(file);
    });
    expect(result.current.data).toEqual({ job_id: RESTORE_ID, status: 'pending', message: 'Restore job created.' });
    expect(calls).toHaveLength(1);
    expect(((calls[0].body as FormData).get('file') as File).name).toBe('backup.zip');
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ['backup', 'list'] });
  });

  it('useStartRestore surfaces the API message for a file that is not a ZIP', async () => {
    stubFetch(() => detail(400, 'Invalid file type. Expected a .zip backup file.'));
    const { result } = renderHook(() => useStartRestore(), { wrapper: wrapperFor(newClient()) });
    act(() => result.current.mutate(new File(['hello'], 'notes.zip')));
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(result.current.error?.message).toBe('Invalid file type. Expected a .zip backup file.');
  });
});

describe('restoring saved backups', () => {
  const SAFETY_ID = '019478a1-5afe-7def-8901-234567890abc';
  const CHANGES = {
    events: { archive_rows: 200, live_rows: 240, added: 0, removed: 40, changed: 0, unchanged: 200 },
    settings: { archive_rows: 5, live_rows: 5, added: 0, removed: 0, changed: 3, unchanged: 2 },
  };

  it('useRestoreBackup POSTs the options to /api/backup/{id}/restore', async () => {
    const calls = stubFetch(() => json({ job_id: RESTORE_ID, status: 'pending', message: 'ok' }, 202));
    const { result } = renderHook(() => useRestoreBackup(), { wrapper: wrapperFor(newClient()) });
    await act(async () => {
      await result.current.mutateAsync({ backupId: BACKUP_ID, options: { tables: ['settings'], safety_backup: false } });
    });
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([`POST /api/backup/${BACKUP_ID}/restore`]);
    expect(JSON.parse(String(calls[0].body))).toEqual({ tables: ['settings'], safety_backup: false });
  });

  it('useRestoreBackup asks again on a 409 (the previous job letting go of the lock), then starts', async () => {
    let answers = 0;
    const calls = stubFetch(() =>
      answers++ < 2
        ? detail(409, 'Another backup or restore is running')
        : json({ job_id: RESTORE_ID, status: 'pending', message: 'ok' }, 202),
    );
    const { result } = renderHook(() => useRestoreBackup(5), { wrapper: wrapperFor(newClient()) });
    act(() => result.current.mutate({ backupId: BACKUP_ID }));
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    expect(calls).toHaveLength(3);
  });

  it('useRestoreBackup gives up on a lasting 409 with its detail, and never retries a 400', async () => {
    const busy = stubFetch(() => detail(409, 'Another backup or restore is running'));
    const { result } = renderHook(() => useRestoreBackup(5), { wrapper: wrapperFor(newClient()) });
    act(() => result.current.mutate({ backupId: BACKUP_ID }));
    await waitFor(() => expect(result.current.isError).toBe(true), { timeout: 3000 });
    expect(result.current.error?.message).toBe('Another backup or restore is running');
    expect(busy).toHaveLength(BUSY_RETRIES + 1);

    const refused = stubFetch(() => detail(400, 'Tables not in the archive: nope'));
    act(() => result.current.mutate({ backupId: BACKUP_ID, options: { tables: ['nope'] } }));
    await waitFor(() => expect(result.current.error?.message).toBe('Tables not in the archive: nope'));
    expect(refused).toHaveLength(1);
  });

  it('useRestorePreview starts one dry run per backup and polls it until its changes are known', async () => {
    let polls = 0;
    const calls = stubFetch((call) => {
      if (call.method === 'POST') return json({ job_id: RESTORE_ID, status: 'pending', message: 'ok' }, 202);
      polls++;
      return json(
        polls < 3
          ? restoreJob('validating', { dry_run: true })
          : restoreJob('completed', {
              dry_run: true,
              items_restored: null,
              changes: CHANGES,
              progress: { total_tables: 8, completed_tables: 8, progress_percent: 100, current_step: 'Dry run complete' },
            }),
      );
    });
    const { result, rerender } = renderHook(() => useRestorePreview(BACKUP_ID, { pollInterval: POLL }), {
      wrapper: wrapperFor(newClient()),
    });
    await waitFor(() => expect(result.current.job.data?.status).toBe('completed'));
    rerender();
    expect(result.current.job.data?.changes).toEqual(CHANGES);
    const posts = calls.filter((c) => c.method === 'POST');
    expect(posts.map((c) => c.url)).toEqual([`/api/backup/${BACKUP_ID}/restore`]);
    expect(JSON.parse(String(posts[0].body))).toEqual({ dry_run: true });
    await sleep(POLL * 5);
    expect(polls).toBe(3);
  });

  it('useRestorePreview shows why a dry run could not start, and retry() starts a new one', async () => {
    let refuse = true;
    const calls = stubFetch((call) => {
      if (call.method === 'POST') {
        return refuse ? detail(404, `Backup job not found: ${BACKUP_ID}`) : json({ job_id: RESTORE_ID, status: 'pending', message: 'ok' }, 202);
      }
      return json(restoreJob('completed', { dry_run: true, changes: CHANGES }));
    });
    const { result } = renderHook(() => useRestorePreview(BACKUP_ID, { pollInterval: POLL }), {
      wrapper: wrapperFor(newClient()),
    });
    await waitFor(() => expect(result.current.start.error?.message).toBe(`Backup job not found: ${BACKUP_ID}`));
    refuse = false;
    act(() => result.current.retry());
    await waitFor(() => expect(result.current.job.data?.changes).toEqual(CHANGES));
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(2);
  });

  it('useRestoreJob refreshes the backup list when a restore ends (its safety backup), not after a dry run', async () => {
    stubFetch((call) => {
      if (call.url === `/api/backup/restore/${RESTORE_ID}`) {
        return json(restoreJob('completed', { safety_backup_id: SAFETY_ID }));
      }
      if (call.url === `/api/backup/restore/dry`) return json(restoreJob('completed', { id: 'dry', dry_run: true }));
      return json(EMPTY_LIST);
    });
    const client = newClient();
    const invalidate = vi.spyOn(client, 'invalidateQueries');
    const dry = renderHook(() => useJob('restore', 'dry', { pollInterval: POLL }), { wrapper: wrapperFor(client) });
    await waitFor(() => expect(dry.result.current.data?.status).toBe('completed'));
    await sleep(POLL * 2);
    expect(invalidate).not.toHaveBeenCalled();
    const real = renderHook(() => useJob('restore', RESTORE_ID, { pollInterval: POLL }), { wrapper: wrapperFor(client) });
    await waitFor(() => expect(real.result.current.data?.safety_backup_id).toBe(SAFETY_ID));
    await waitFor(() => expect(invalidate).toHaveBeenCalledWith({ queryKey: ['backup', 'list'] }));
  });

  it('useStartRestore passes the options of an upload as form fields', async () => {
    const calls = stubFetch(() => json({ job_id: RESTORE_ID, status: 'pending', message: 'ok' }, 202));
    const { result } = renderHook(() => useStartRestore(), { wrapper: wrapperFor(newClient()) });
    const file = new File([new Uint8Array([1])], 'backup.zip.age');
    await act(async () => {
      await result.current.mutateAsync({ file, options: { safety_backup: false } });
    });
    expect((calls[0].body as FormData).get('safety_backup')).toBe('false');
    expect(((calls[0].body as FormData).get('file') as File).name).toBe('backup.zip.age');
  });
});
