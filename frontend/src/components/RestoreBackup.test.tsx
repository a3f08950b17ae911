import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import type { ReactElement } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { RecordedCall } from '../test/fetchStub';
import { detail, json, stubFetch } from '../test/fetchStub';
import { BACKUP_ID, restoreJob } from '../test/fixtures';
import type { BackupListResponse, RestoreJob, TableChanges } from '../types/backup';
import { BackupList } from './BackupList';
import { RestorePanel } from './RestorePanel';

const PLAIN_ID = '019478a1-aaaa-7def-8901-234567890abc';
const SAFETY_ID = '019478a1-5afe-7def-8901-234567890abc';
const UNDO_SAFETY_ID = '019478a1-5afe-7def-8901-000000000002';

const LIST: BackupListResponse = {
  backups: [
    {
      id: BACKUP_ID,
      created_at: '2026-11-26T10:00:00Z',
      file_size_bytes: 4096,
      status: 'completed',
      download_url: `/api/backup/${BACKUP_ID}/download`,
      trigger: 'manual',
      pinned: false,
      encrypted: true,
      reuse: null,
    },
    {
      id: PLAIN_ID,
      created_at: '2026-11-25T10:00:00Z',
      file_size_bytes: 2048,
      status: 'completed',
      download_url: `/api/backup/${PLAIN_ID}/download`,
      trigger: 'schedule',
      pinned: false,
      encrypted: false,
      reuse: null,
    },
  ],
  total: 2,
};

const c = (o: Partial<TableChanges>): TableChanges => ({
  archive_rows: 0,
  live_rows: 0,
  added: 0,
  removed: 0,
  changed: 0,
  unchanged: 0,
  ...o,
});

const CHANGES: Record<string, TableChanges> = {
  settings: c({ archive_rows: 5, live_rows: 6, removed: 1, changed: 3, unchanged: 2 }),
  events: c({ archive_rows: 200, live_rows: 12_603, added: 5, removed: 12_408, unchanged: 195 }),
  household_members: c({ archive_rows: 3, live_rows: 2, added: 1, unchanged: 2 }),
  zones: c({ archive_rows: 4, live_rows: 4, unchanged: 4 }),
};

const DONE = { total_tables: 4, completed_tables: 4, progress_percent: 100, current_step: 'Restore complete' };

interface Options {
  /** What the dry run ends as. */
  dryRun?: (n: number) => RestoreJob;
}

/** A server with the list above; restores of saved backups move through their states per GET. */
function server({ dryRun }: Options = {}) {
  const jobs = new Map<string, { body: Record<string, unknown>; polls: number; backupId: string }>();
  let dryRuns = 0;
  const calls = stubFetch((call: RecordedCall) => {
    const key = `${call.method} ${call.url}`;
    if (key === 'GET /api/backup') return json(LIST);
    const start = /^POST \/api\/backup\/([^/]+)\/restore$/.exec(key);
    if (start) {
      const body = JSON.parse(String(call.body)) as Record<string, unknown>;
      const id = body.dry_run ? `dry-${++dryRuns}` : start[1] === SAFETY_ID ? 'undo-1' : 'real-1';
      jobs.set(id, { body, polls: 0, backupId: start[1] });
      return json({ job_id: id, status: 'pending', message: 'ok' }, 202);
    }
    const poll = /^GET \/api\/backup\/restore\/(.+)$/.exec(key);
    if (poll && jobs.has(poll[1])) {
      const id = poll[1];
      // biome-ignore lint/style/noNonNullAssertion: jobs.has(id) was checked just above
      const job = jobs.get(id)!;
      job.polls++;
      const tables = (job.body.tables as string[] | undefined) ?? null;
      if (id.startsWith('dry-')) {
        if (job.polls === 1) return json(restoreJob('validating', { id, dry_run: true }));
        if (dryRun) return json({ ...dryRun(dryRuns), id });
        return json(
          restoreJob('completed', {
            id,
            dry_run: true,
            items_restored: null,
            changes: CHANGES,
            progress: { ...DONE, current_step: 'Dry run complete' },
          }),
        );
      }
      if (job.polls === 1) return json(restoreJob('restoring', { id, tables }));
      const safety = job.body.safety_backup === false ? null : id === 'undo-1' ? UNDO_SAFETY_ID : SAFETY_ID;
      return json(
        restoreJob('completed', {
          id,
          backup_id: job.backupId,
          tables,
          safety_backup_id: safety,
          changes: CHANGES,
          items_restored: { settings: 5, events: 200 },
          progress: DONE,
        }),
      );
    }
    if (key === 'POST /api/backup/restore') {
      const form = call.body as FormData;
      jobs.set('real-1', { body: { safety_backup: form.get('safety_backup') !== 'false' }, polls: 0, backupId: 'upload' });
      return json({ job_id: 'real-1', status: 'pending', message: 'ok' }, 202);
    }
    return detail(404, `no stub for ${key}`);
  });
  return { calls, jobs };
}

function renderWithClient(ui: ReactElement) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(<QueryClientProvider client={client}>{ui}</QueryClientProvider>);
}

function posts(calls: RecordedCall[]) {
  return calls
    .filter((call) => call.method === 'POST')
    .map((call) => ({ url: call.url, body: call.body instanceof FormData ? call.body : JSON.parse(String(call.body)) }));
}

async function openRestoreDialog(backupId = BACKUP_ID) {
  const item = await screen.findByText(backupId).then((el) => el.closest('li') as HTMLElement);
  fireEvent.click(within(item).getByRole('button', { name: /^Restore the backup from/ }));
  return screen.getByRole('alertdialog', { name: 'Restore this backup?' });
}

/** The preview's row for a table (its checkbox is named after the table). */
function choice(dialog: HTMLElement, label: string) {
  const box = within(dialog).getByRole('checkbox', { name: label }) as HTMLInputElement;
  return { box, row: box.closest('li') as HTMLElement };
}

beforeEach(() => sessionStorage.clear());
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('encrypted backups in the list', () => {
  it('show a lock icon with a text alternative and the word "encrypted"; plain ones do not', async () => {
    server();
    renderWithClient(<BackupList />);
    const [encrypted, plain] = await screen.findAllByRole('listitem');
    const badge = within(encrypted).getByTestId('encrypted-badge');
    expect(badge.textContent).toBe('encrypted');
    expect(within(badge).getByRole('img', { name: 'Lock' })).toBeTruthy();
    expect(within(plain).queryByTestId('encrypted-badge')).toBeNull();
    expect(within(plain).queryByRole('img')).toBeNull();
  });
});

describe('restoring a saved backup', () => {
  it('previews the restore with a dry run, in plain words per table, before anything changes', async () => {
    const { calls } = server();
    renderWithClient(<BackupList />);
    const dialog = await openRestoreDialog();
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Cancel' }));
    within(dialog).getByText(/Checking what the restore would change/);
    expect((within(dialog).getByRole('button', { name: 'Restore' }) as HTMLButtonElement).disabled).toBe(true);

    const events = await within(dialog).findByRole('checkbox', { name: 'Events' }, { timeout: 5000 });
    expect(posts(calls)).toEqual([{ url: `/api/backup/${BACKUP_ID}/restore`, body: { dry_run: true } }]);
    expect((events as HTMLInputElement).checked).toBe(true);
    // The seed's table order, whatever order the JSON had.
    const names = within(dialog)
      .getAllByRole('checkbox')
      .map((box) => box.closest('label')?.textContent);
    expect(names).toEqual(['Events', 'Zones', 'Household members', 'Settings', 'Back up the current data first (safety backup)']);
    expect(choice(dialog, 'Events').row.textContent).toContain(
      '12,408 events added since this backup will be removed; 5 events deleted since this backup will come back',
    );
    expect(choice(dialog, 'Settings').row.textContent).toContain(
      '1 setting added since this backup will be removed; 3 settings changed since this backup will be set back',
    );
    expect(choice(dialog, 'Household members').row.textContent).toContain(
      '1 household member deleted since this backup will come back',
    );
    expect(choice(dialog, 'Zones').row.textContent).toContain('No change (4 zones, all as in the backup)');
    // The sentence describes its checkbox for screen readers.
    const described = document.getElementById(events.getAttribute('aria-describedby') as string);
    expect(described?.textContent).toContain('12,408 events added since this backup will be removed');

    expect((within(dialog).getByRole('button', { name: 'Restore 4 tables' }) as HTMLButtonElement).disabled).toBe(false);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(posts(calls)).toHaveLength(1); // only the dry run
  });

  it('keeps the safety backup on by default, sends only the ticked tables, and shows the progress', async () => {
    const { calls } = server();
    renderWithClient(<BackupList />);
    const dialog = await openRestoreDialog();
    await within(dialog).findByRole('checkbox', { name: 'Events' }, { timeout: 5000 });
    const safety = within(dialog).getByRole('checkbox', { name: /safety backup/ }) as HTMLInputElement;
    expect(safety.checked).toBe(true);
    expect(within(dialog).getByTestId('safety-hint').textContent).toContain('so you can undo it afterwards');

    fireEvent.click(choice(dialog, 'Events').box);
    expect(choice(dialog, 'Events').box.checked).toBe(false);
    expect(choice(dialog, 'Events').row.textContent).toContain('Left as it is now');
    within(dialog).getByText('Unticked tables are left as they are now.');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Restore 3 tables' }));

    const job = await screen.findByTestId('saved-restore-job');
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(posts(calls)[1]).toEqual({
      url: `/api/backup/${BACKUP_ID}/restore`,
      body: { safety_backup: true, tables: ['zones', 'household_members', 'settings'] },
    });
    expect(within(job).getByRole('heading').textContent).toMatch(/^Restore of the backup from /);
    await within(job).findByText('Restore completed', {}, { timeout: 5000 });
    expect(within(job).getByRole('progressbar', { name: 'Restore progress' }).getAttribute('aria-valuenow')).toBe('100');
    expect(job.textContent).toContain('The zones, household members and settings are now as they were on');
    expect(job.textContent).toContain('The other tables were left as they were.');

    // Its undo names the same tables: the safety backup holds just those.
    fireEvent.click(within(job).getByRole('button', { name: 'Undo this restore' }));
    const confirm = screen.getByRole('alertdialog', { name: 'Undo this restore?' });
    expect(confirm.textContent).toContain('This puts the zones, household members and settings back as they were just before');
    fireEvent.click(within(confirm).getByRole('button', { name: 'Undo the restore' }));
    await waitFor(() => expect(posts(calls)).toHaveLength(3));
    expect(posts(calls)[2]).toEqual({
      url: `/api/backup/${SAFETY_ID}/restore`,
      body: { tables: ['zones', 'household_members', 'settings'], safety_backup: true },
    });
    const undo = await within(job).findByTestId('undo-job');
    await within(undo).findByText(/the zones, household members and settings are back as they were just before/, {}, { timeout: 5000 });
  });

  it('disables the confirm button when every table is unticked', async () => {
    server();
    renderWithClient(<BackupList />);
    const dialog = await openRestoreDialog();
    await within(dialog).findByRole('checkbox', { name: 'Events' }, { timeout: 5000 });
    for (const name of ['Events', 'Zones', 'Household members', 'Settings']) fireEvent.click(choice(dialog, name).box);
    const confirm = within(dialog).getByRole('button', { name: 'Restore 0 tables' }) as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    within(dialog).getByText('Tick at least one table to restore.');
    fireEvent.click(choice(dialog, 'Settings').box);
    expect((within(dialog).getByRole('button', { name: 'Restore 1 table' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('without the safety backup: warns that it cannot be undone, sends safety_backup false, offers no undo', async () => {
    const { calls } = server();
    renderWithClient(<BackupList />);
    const dialog = await openRestoreDialog();
    await within(dialog).findByRole('checkbox', { name: 'Events' }, { timeout: 5000 });
    fireEvent.click(within(dialog).getByRole('checkbox', { name: /safety backup/ }));
    expect(within(dialog).getByTestId('safety-hint').textContent).toBe('Without a safety backup this restore cannot be undone.');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Restore 4 tables' }));
    const job = await screen.findByTestId('saved-restore-job');
    await within(job).findByText('Restore completed', {}, { timeout: 5000 });
    expect(posts(calls)[1].body).toEqual({ safety_backup: false });
    expect(job.textContent).toContain('The data is now as it was on');
    expect(within(job).queryByRole('button', { name: 'Undo this restore' })).toBeNull();
  });

  it('undoes a restore by restoring its safety backup, after its own confirmation', async () => {
    const { calls } = server();
    renderWithClient(<BackupList />);
    const dialog = await openRestoreDialog();
    await within(dialog).findByRole('checkbox', { name: 'Events' }, { timeout: 5000 });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Restore 4 tables' }));
    const job = await screen.findByTestId('saved-restore-job');
    const undoButton = await within(job).findByRole('button', { name: 'Undo this restore' }, { timeout: 5000 });

    fireEvent.click(undoButton);
    const confirm = screen.getByRole('alertdialog', { name: 'Undo this restore?' });
    expect(confirm.textContent).toContain('This puts the data back as it was just before the restore');
    expect(confirm.textContent).toContain('a safety backup of the data as it is now is taken first');
    expect(document.activeElement).toBe(within(confirm).getByRole('button', { name: 'Cancel' }));
    fireEvent.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(posts(calls)).toHaveLength(2); // the dry run and the restore: nothing undone yet

    fireEvent.click(within(job).getByRole('button', { name: 'Undo this restore' }));
    fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Undo the restore' }));
    const undo = await within(job).findByTestId('undo-job');
    expect(posts(calls)[2]).toEqual({ url: `/api/backup/${SAFETY_ID}/restore`, body: { safety_backup: true } });
    // While the undo runs: no Close (it would hide the undo), no other restore from the list.
    expect(within(job).queryByRole('button', { name: 'Close' })).toBeNull();
    await waitFor(() => {
      for (const button of screen.getAllByRole('button', { name: /^Restore the backup from/ })) {
        expect((button as HTMLButtonElement).disabled).toBe(true);
      }
    });
    await within(undo).findByText(/^Undone .*: the data is back as it was just before the restore\./, {}, { timeout: 5000 });
    await within(job).findByRole('button', { name: 'Close' });
    await waitFor(() =>
      expect((screen.getAllByRole('button', { name: /^Restore the backup from/ })[0] as HTMLButtonElement).disabled).toBe(false),
    );
    expect(undo.textContent).toContain('What the undo replaced is kept as a safety backup in the list.');
    expect(within(undo).getByRole('progressbar', { name: 'Undo progress' }).getAttribute('aria-valuenow')).toBe('100');
    expect(within(job).queryByRole('button', { name: 'Undo this restore' })).toBeNull();
  });

  it('shows why the dry run failed, keeps the restore disabled, and checks again on request', async () => {
    const { calls } = server({
      dryRun: (n) =>
        n === 1
          ? restoreJob('failed', { dry_run: true, error_message: 'Checksum mismatch for events: expected aa, got bb' })
          : restoreJob('completed', { dry_run: true, changes: CHANGES, items_restored: null }),
    });
    renderWithClient(<BackupList />);
    const dialog = await openRestoreDialog(PLAIN_ID);
    const alert = await within(dialog).findByRole('alert', {}, { timeout: 5000 });
    expect(alert.textContent).toContain('Could not check this backup: Checksum mismatch for events');
    expect((within(dialog).getByRole('button', { name: 'Restore' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(within(alert).getByRole('button', { name: 'Check again' }));
    await within(dialog).findByRole('checkbox', { name: 'Events' }, { timeout: 5000 });
    expect(posts(calls).map((p) => p.url)).toEqual([
      `/api/backup/${PLAIN_ID}/restore`,
      `/api/backup/${PLAIN_ID}/restore`,
    ]);
  });
});

describe('restoring an upload', () => {
  it('accepts a .zip.age file, sends the safety backup choice and offers the undo', async () => {
    const { calls } = server();
    renderWithClient(<RestorePanel />);
    const input = document.getElementById('restore-file') as HTMLInputElement;
    expect(input.accept.split(',')).toEqual(expect.arrayContaining(['.zip', '.zip.age']));
    fireEvent.change(input, { target: { files: [new File([new Uint8Array([0x61])], 'backup.zip.age')] } });
    fireEvent.click(await screen.findByRole('button', { name: 'Restore from this file…' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Replace the current data?' });
    expect((within(dialog).getByRole('checkbox', { name: /safety backup/ }) as HTMLInputElement).checked).toBe(true);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Replace data and restore' }));
    await waitFor(() => expect(posts(calls)).toHaveLength(1));
    const form = posts(calls)[0].body as FormData;
    expect(form.get('safety_backup')).toBe('true');
    expect((form.get('file') as File).name).toBe('backup.zip.age');
    const job = screen.getByTestId('restore-job');
    await within(job).findByRole('button', { name: 'Undo this restore' }, { timeout: 5000 });
  });
});
