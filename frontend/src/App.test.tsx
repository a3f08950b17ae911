import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { App } from './App';
import { API_KEY_STORAGE_KEY } from './api';
import type { RecordedCall } from './test/fetchStub';
import { detail, json, stubFetch } from './test/fetchStub';
import { BACKUP_ID, backupJob, RESTORE_ID, restoreJob } from './test/fixtures';
import type { BackupListResponse, RestoreJobStatus } from './types/backup';

const LISTED: BackupListResponse = {
  backups: [
    {
      id: BACKUP_ID,
      created_at: '2026-11-26T10:00:00Z',
      file_size_bytes: 1536,
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

function renderApp() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <App />
    </QueryClientProvider>,
  );
}

function zip(name = 'backup.zip') {
  return new File([new Uint8Array([0x50, 0x4b, 3, 4])], name, { type: 'application/zip' });
}

function chooseFile(file: File) {
  const input = document.getElementById('restore-file') as HTMLInputElement;
  fireEvent.change(input, { target: { files: [file] } });
}

beforeEach(() => sessionStorage.clear());
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('backup list', () => {
  it('shows each backup with its size in human units, a download link and a delete button', async () => {
    stubFetch(() => json(LISTED));
    renderApp();
    const item = await screen.findByRole('listitem');
    expect(within(item).getByText('1.5 KB')).toBeTruthy();
    const link = within(item).getByRole('link', { name: /Download the backup from/ });
    expect(link.getAttribute('href')).toBe(`/api/backup/${BACKUP_ID}/download`);
    expect(within(item).getByRole('button', { name: /Delete the backup from/ })).toBeTruthy();
  });

  it('says how much of a backup was reused from the previous one, and nothing for a full read', async () => {
    const [first] = LISTED.backups;
    const reused = { ...first, reuse: { parts_reused: 30, rows_reused: 900000, parts_read: 5, rows_read: 12345 } };
    stubFetch(() => json({ backups: [reused], total: 1 }));
    renderApp();
    const item = await screen.findByRole('listitem');
    expect(within(item).getByTestId('reuse').textContent).toBe('reused 30 of 35 parts (12,345 rows read)');
    cleanup();
    stubFetch(() => json({ backups: [{ ...first, reuse: { ...reused.reuse, parts_reused: 0 } }], total: 1 }));
    renderApp();
    const full = await screen.findByRole('listitem');
    expect(within(full).queryByTestId('reuse')).toBeNull();
  });

  it('deletes only after confirmation; Escape cancels', async () => {
    let listed = true;
    const calls = stubFetch((call) => {
      if (call.method === 'DELETE') {
        listed = false;
        return json({ deleted: true });
      }
      return json(listed ? LISTED : { backups: [], total: 0 });
    });
    renderApp();
    const item = await screen.findByRole('listitem');
    fireEvent.click(within(item).getByRole('button', { name: /Delete the backup from/ }));
    const dialog = screen.getByRole('alertdialog', { name: 'Delete this backup?' });
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Cancel' }));
    fireEvent.keyDown(dialog, { key: 'Escape' });
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);

    fireEvent.click(within(item).getByRole('button', { name: /Delete the backup from/ }));
    fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Delete backup' }));
    await screen.findByText(/No backups yet/);
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.url)).toEqual([`/api/backup/${BACKUP_ID}`]);
  });
});

describe('create backup', () => {
  it('shows progress and the current step, then the result', async () => {
    const statuses = ['running', 'completed'] as const;
    let polls = 0;
    stubFetch((call) => {
      if (call.method === 'POST') return json({ job_id: BACKUP_ID, status: 'pending', message: 'ok' }, 202);
      if (call.url !== `/api/backup/${BACKUP_ID}`) return json({ backups: [], total: 0 });
      return json(backupJob(statuses[Math.min(polls++, 1)]));
    });
    renderApp();
    await screen.findByText(/No backups yet/);
    fireEvent.click(screen.getByRole('button', { name: 'Create backup' }));
    await screen.findByText('Exporting events');
    const bar = screen.getByRole('progressbar', { name: 'Backup progress' });
    expect(bar.getAttribute('aria-valuenow')).toBe('40');
    await screen.findByText('Download backup', {}, { timeout: 10_000 });
    expect(screen.getByRole('progressbar', { name: 'Backup progress' }).getAttribute('aria-valuenow')).toBe('100');
  });

  it("shows the API's message when the backup cannot start", async () => {
    stubFetch((call) =>
      call.method === 'POST' ? detail(409, 'A restore is running') : json({ backups: [], total: 0 }),
    );
    renderApp();
    await screen.findByText(/No backups yet/);
    fireEvent.click(screen.getByRole('button', { name: 'Create backup' }));
    expect((await screen.findByRole('alert')).textContent).toContain('A restore is running');
  });
});

describe('restore', () => {
  function restoreServer(statuses: RestoreJobStatus[]) {
    let polls = 0;
    return stubFetch((call: RecordedCall) => {
      if (call.method === 'POST' && call.url === '/api/backup/restore') {
        return json({ job_id: RESTORE_ID, status: 'pending', message: 'ok' }, 202);
      }
      if (call.url === `/api/backup/restore/${RESTORE_ID}`) {
        return json(restoreJob(statuses[Math.min(polls++, statuses.length - 1)]));
      }
      return json({ backups: [], total: 0 });
    });
  }

  it('refuses a file that is not a .zip or .zip.age before uploading', async () => {
    const calls = restoreServer(['completed']);
    renderApp();
    chooseFile(new File(['x'], 'notes.txt', { type: 'text/plain' }));
    expect((await screen.findByRole('alert')).textContent).toContain('“notes.txt” is not a backup archive');
    expect(screen.queryByRole('button', { name: 'Restore from this file…' })).toBeNull();
    expect(calls.some((c) => c.url === '/api/backup/restore')).toBe(false);
  });

  it('accepts a dropped .zip', async () => {
    restoreServer(['completed']);
    renderApp();
    const zone = screen.getByTestId('dropzone');
    fireEvent.drop(zone, { dataTransfer: { files: [zip('dropped.zip')] } });
    expect(await screen.findByText('dropped.zip')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Restore from this file…' })).toBeTruthy();
  });

  it('says plainly what is replaced, uploads only on confirmation and shows the per-table counts', async () => {
    const calls = restoreServer(['validating', 'restoring', 'completed']);
    renderApp();
    chooseFile(zip('my-backup.zip'));
    fireEvent.click(await screen.findByRole('button', { name: 'Restore from this file…' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Replace the current data?' });
    expect(dialog.textContent).toContain(
      'replaces the events, alerts, cameras, zones, prompts, baselines, household members and settings',
    );
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Cancel' }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(calls.some((c) => c.url === '/api/backup/restore')).toBe(false);

    fireEvent.click(screen.getByRole('button', { name: 'Restore from this file…' }));
    fireEvent.click(screen.getByRole('button', { name: 'Replace data and restore' }));
    await waitFor(() => expect(calls.filter((c) => c.url === '/api/backup/restore')).toHaveLength(1));
    const table = await screen.findByRole('table', {}, { timeout: 10_000 });
    const rows = within(table)
      .getAllByRole('row')
      .map((r) => r.textContent);
    // The seed's order (events, alerts, ..., settings), whatever order the API's JSON had.
    expect(rows).toEqual(['TableRows', 'Events200', 'Alerts40', 'Settings5', 'Total245']);
    expect(screen.getByText('Restore completed')).toBeTruthy();
  });

  it('shows the failure message of a failed restore', async () => {
    restoreServer(['validating', 'failed']);
    renderApp();
    chooseFile(zip());
    fireEvent.click(await screen.findByRole('button', { name: 'Restore from this file…' }));
    fireEvent.click(screen.getByRole('button', { name: 'Replace data and restore' }));
    const alert = await screen.findByText(/Restore failed: Checksum mismatch for events/, {}, { timeout: 10_000 });
    expect(alert.textContent).toContain('Nothing was changed.');
  });
});

describe('API key', () => {
  it('asks once on 401, keeps the key in sessionStorage and retries', async () => {
    const calls = stubFetch((call) =>
      call.headers.get('X-API-Key') === 'k3y' ? json(LISTED) : detail(401, 'Invalid or missing API key'),
    );
    renderApp();
    const dialog = await screen.findByRole('dialog', { name: 'API key required' });
    const input = within(dialog).getByLabelText('API key');
    expect(document.activeElement).toBe(input);
    fireEvent.change(input, { target: { value: 'k3y' } });
    await act(async () => {
      fireEvent.submit(input.closest('form') as HTMLFormElement);
    });
    await screen.findByRole('listitem');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(sessionStorage.getItem(API_KEY_STORAGE_KEY)).toBe('k3y');
    expect(calls[calls.length - 1].headers.get('X-API-Key')).toBe('k3y');
  });
});
