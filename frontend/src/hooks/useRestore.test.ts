import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { createElement } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { detail, json, stubFetch } from '../test/fetchStub';
import { restoreJob } from '../test/fixtures';
import { useRestoreRun } from './useRestore';

const POLL = 20;

function wrapperFor(client: QueryClient) {
  return ({ children }: { children: ReactNode }) => createElement(QueryClientProvider, { client }, children);
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('useRestoreRun', () => {
  it('follows a restore and its undo; the next restore starts with no undo of its own', async () => {
    let undoPolls = 0;
    const calls = stubFetch((call) => {
      const done = /^\/api\/backup\/restore\/(first|second)$/.exec(call.url);
      if (done) {
        const id = done[1];
        return json(restoreJob('completed', { id, safety_backup_id: id === 'first' ? 'safety-1' : 'safety-2' }));
      }
      if (call.method === 'POST' && call.url === '/api/backup/safety-1/restore') {
        return json({ job_id: 'undo-1', status: 'pending', message: 'ok' }, 202);
      }
      if (call.url === '/api/backup/restore/undo-1') {
        return json(restoreJob(undoPolls++ < 1 ? 'restoring' : 'completed', { id: 'undo-1' }));
      }
      if (call.url === '/api/backup') return json({ backups: [], total: 0 });
      return detail(404, `unexpected ${call.method} ${call.url}`);
    });
    const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
    const { result, rerender } = renderHook(({ id }: { id: string }) => useRestoreRun(id, { pollInterval: POLL }), {
      wrapper: wrapperFor(client),
      initialProps: { id: 'first' },
    });
    await waitFor(() => expect(result.current.ended).toBe(true));
    expect(result.current.undo.safetyId).toBe('safety-1');

    const started = vi.fn();
    act(() => result.current.undo.run(started));
    await waitFor(() => expect(result.current.undo.job.phase).toBe('active'));
    expect(result.current.busy).toBe(true);
    expect(result.current.ended).toBe(false);
    expect(started).toHaveBeenCalledTimes(1);
    expect(result.current.undo.jobId).toBe('undo-1');
    const undoBody = calls.find((c) => c.method === 'POST')?.body;
    expect(JSON.parse(String(undoBody))).toEqual({ safety_backup: true });
    // The undo polls at the page's own pace (every second).
    await waitFor(() => expect(result.current.undo.job.phase).toBe('done'), { timeout: 5000 });
    expect(result.current.busy).toBe(false);
    expect(result.current.ended).toBe(true);

    rerender({ id: 'second' });
    await waitFor(() => expect(result.current.undo.safetyId).toBe('safety-2'));
    expect(result.current.undo.jobId).toBeNull();
    expect(result.current.undo.job.phase).toBe('idle');
  });
});
