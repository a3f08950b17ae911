import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { App } from '../App';
import type { RecordedCall } from '../test/fetchStub';
import { detail, json, stubFetch } from '../test/fetchStub';
import { BACKUP_ID } from '../test/fixtures';
import type { BackupListResponse, DrillResult, ScheduleResponse } from '../types/backup';

const HOUR = 3600_000;
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

function schedule(overrides: Partial<ScheduleResponse> = {}): ScheduleResponse {
  return {
    schedule: '0 2 * * *',
    timezone: 'Europe/Berlin',
    next_run_at: iso(3 * HOUR),
    last_scheduled_backup: { id: BACKUP_ID, status: 'completed', created_at: iso(-21 * HOUR) },
    retention: { keep_last: 7, keep_daily: 7, keep_weekly: 4, keep_monthly: 6 },
    drill_schedule: 'off',
    next_drill_at: null,
    drill_configured: true,
    ...overrides,
  };
}

const LIST: BackupListResponse = {
  backups: [
    {
      id: BACKUP_ID,
      created_at: '2026-11-26T02:00:00Z',
      file_size_bytes: 2048,
      status: 'completed',
      download_url: `/api/backup/${BACKUP_ID}/download`,
      trigger: 'schedule',
      pinned: false,
      encrypted: false,
      reuse: null,
    },
  ],
  total: 1,
};

function drill(overrides: Partial<DrillResult> = {}): DrillResult {
  return {
    id: '019478a1-dddd-7def-8901-234567890abc',
    backup_id: BACKUP_ID,
    status: 'passed',
    trigger: 'manual',
    created_at: iso(-2 * HOUR - 60_000),
    started_at: iso(-2 * HOUR - 50_000),
    completed_at: iso(-2 * HOUR),
    tables: {
      events: { expected_rows: 200, restored_rows: 200, checksum_match: true },
      settings: { expected_rows: 5, restored_rows: 5, checksum_match: true },
    },
    error_message: null,
    ...overrides,
  };
}

interface ServerState {
  schedule: ScheduleResponse;
  list: BackupListResponse;
  drills: DrillResult[];
}

function server(state: ServerState): RecordedCall[] {
  return stubFetch(async (call) => {
    const key = `${call.method} ${call.url}`;
    if (key === 'GET /api/schedule') return json(state.schedule);
    if (key === 'PUT /api/schedule') {
      const body = JSON.parse(String(call.body));
      if (body.schedule === '61 2 * * *') return detail(400, "Invalid cron expression '61 2 * * *': bad minute");
      state.schedule = { ...state.schedule, ...body, retention: { ...state.schedule.retention, ...body.retention } };
      return json(state.schedule);
    }
    if (key === 'GET /api/backup') return json(state.list);
    if (key === `PATCH /api/backup/${BACKUP_ID}`) {
      const { pinned } = JSON.parse(String(call.body));
      state.list = { ...state.list, backups: state.list.backups.map((b) => ({ ...b, pinned })) };
      return json({ id: BACKUP_ID, pinned });
    }
    if (key === 'GET /api/drills') return json({ drills: state.drills, total: state.drills.length });
    if (key === `POST /api/backup/${BACKUP_ID}/drill`) {
      state.drills = [drill({ id: 'new-drill', status: 'running', completed_at: null, tables: {} }), ...state.drills];
      return json({ drill_id: 'new-drill', status: 'pending' }, 202);
    }
    return detail(404, `no stub for ${key}`);
  });
}

function renderApp() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <App />
    </QueryClientProvider>,
  );
}

beforeEach(() => sessionStorage.clear());
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('automatic backups panel', () => {
  it('shows the schedule in words, the next run, the last scheduled result and the retention', async () => {
    server({ schedule: schedule(), list: LIST, drills: [] });
    renderApp();
    const panel = await screen.findByTestId('automatic-backups');
    await within(panel).findByText('Every day at 02:00 (Europe/Berlin)');
    expect(within(panel).getByTestId('next-run').textContent).toContain('in 3 hours');
    const last = within(panel).getByTestId('last-scheduled');
    expect(last.textContent).toContain('completed');
    expect(last.textContent).toContain('21 hours ago');
    expect(panel.textContent).toContain(
      'Keeps the newest 7, one a day for 7 days, one a week for 4 weeks, one a month for 6 months',
    );
    expect((within(panel).getByLabelText('Schedule') as HTMLInputElement).value).toBe('0 2 * * *');
    expect((within(panel).getByLabelText('Daily') as HTMLInputElement).value).toBe('7');
  });

  it("shows the API's reason for an invalid schedule and saves a valid one", async () => {
    const calls = server({ schedule: schedule(), list: LIST, drills: [] });
    renderApp();
    const panel = await screen.findByTestId('automatic-backups');
    const cron = (await within(panel).findByLabelText('Schedule')) as HTMLInputElement;
    fireEvent.change(cron, { target: { value: '61 2 * * *' } });
    fireEvent.click(within(panel).getByRole('button', { name: 'Save schedule' }));
    const error = await within(panel).findByRole('alert');
    expect(error.textContent).toBe("Not saved: Invalid cron expression '61 2 * * *': bad minute");

    fireEvent.change(cron, { target: { value: '30 3 * * 1' } });
    fireEvent.change(within(panel).getByLabelText('Monthly'), { target: { value: '12' } });
    fireEvent.click(within(panel).getByRole('button', { name: 'Save schedule' }));
    await within(panel).findByText('Every Monday at 03:30 (Europe/Berlin)');
    expect(within(panel).queryByRole('alert')).toBeNull();
    const put = calls.filter((c) => c.method === 'PUT').pop() as RecordedCall;
    expect(JSON.parse(String(put.body))).toEqual({
      schedule: '30 3 * * 1',
      timezone: 'Europe/Berlin',
      retention: { keep_last: 7, keep_daily: 7, keep_weekly: 4, keep_monthly: 12 },
    });
    expect(put.headers.get('Content-Type')).toBe('application/json');
  });

  it('says when automatic backups are off', async () => {
    server({ schedule: schedule({ schedule: 'off', next_run_at: null, last_scheduled_backup: null }), list: LIST, drills: [] });
    renderApp();
    const panel = await screen.findByTestId('automatic-backups');
    await within(panel).findByText('Off: no automatic backups');
    expect(within(panel).getByTestId('next-run').textContent).toBe('none scheduled');
    expect(within(panel).getByTestId('last-scheduled').textContent).toBe('none yet');
  });
});

describe('backup list: trigger and pin', () => {
  it('shows the trigger badge and pins with PATCH', async () => {
    const calls = server({ schedule: schedule(), list: LIST, drills: [] });
    renderApp();
    const item = await screen.findByRole('listitem');
    expect(within(item).getByTestId('trigger-badge').textContent).toBe('scheduled');
    const pin = within(item).getByRole('button', { name: /^Pin the backup from/ });
    expect(pin.getAttribute('aria-pressed')).toBe('false');
    fireEvent.click(pin);
    const unpin = await within(item).findByRole('button', { name: /^Unpin the backup from/ });
    expect(unpin.getAttribute('aria-pressed')).toBe('true');
    expect(within(item).getByText('pinned')).toBeTruthy();
    const patch = calls.find((c) => c.method === 'PATCH') as RecordedCall;
    expect(patch.url).toBe(`/api/backup/${BACKUP_ID}`);
    expect(JSON.parse(String(patch.body))).toEqual({ pinned: true });
  });
});

describe('restore drills panel', () => {
  it('shows the last verified restore and the history, and starts a drill of a saved backup', async () => {
    const failed = drill({
      id: 'older',
      status: 'failed',
      trigger: 'schedule',
      created_at: iso(-30 * HOUR),
      completed_at: iso(-30 * HOUR),
      tables: {},
      error_message: 'Checksum mismatch for events: expected aa, got bb',
    });
    const calls = server({ schedule: schedule(), list: LIST, drills: [drill(), failed] });
    renderApp();
    const panel = await screen.findByTestId('drills');
    await waitFor(() => expect(within(panel).getByTestId('last-drill').textContent).toBe(
      'Last verified restore: passed, 2 hours ago',
    ));
    const rows = within(panel).getAllByRole('row').slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toContain('2 of 2 tables identical, 205 rows');
    expect(rows[1].textContent).toContain('Checksum mismatch for events');
    expect(rows[1].textContent).toContain('scheduled');

    await waitFor(() => expect((within(panel).getByLabelText('Backup to drill') as HTMLSelectElement).value).toBe(BACKUP_ID));
    fireEvent.click(within(panel).getByRole('button', { name: 'Start drill' }));
    await within(panel).findByRole('button', { name: 'Drill running…' });
    expect(calls.some((c) => c.method === 'POST' && c.url === `/api/backup/${BACKUP_ID}/drill`)).toBe(true);
  });

  it("shows the API's reason when a drill cannot start", async () => {
    stubFetch(async (call) => {
      if (call.url === '/api/schedule') return json(schedule({ drill_configured: false }));
      if (call.url === '/api/backup') return json(LIST);
      if (call.url === '/api/drills') return json({ drills: [], total: 0 });
      return detail(400, 'No drill database configured: set BACKUPD_DRILL_DATABASE_URL to a staging database');
    });
    renderApp();
    const panel = await screen.findByTestId('drills');
    await within(panel).findByText('No restore drill yet.');
    await within(panel).findByText(/set BACKUPD_DRILL_DATABASE_URL on the server/);
    await waitFor(() => expect((within(panel).getByLabelText('Backup to drill') as HTMLSelectElement).value).toBe(BACKUP_ID));
    fireEvent.click(within(panel).getByRole('button', { name: 'Start drill' }));
    expect((await within(panel).findByRole('alert')).textContent).toContain('No drill database configured');
  });
});
