import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import type { StatusBackup, StatusResponse } from '../api/status';
import { detail, json, routes, stubFetch } from '../test/fetchStub';
import { BackupChart, Chart, reusedShare } from './BackupChart';
import { formatAge, HealthLine, inZone } from './HealthLine';
import { NotificationsCard } from './NotificationsCard';

const backup = (overrides: Partial<StatusBackup> = {}): StatusBackup => ({
  id: '019478a1-0000-7def-8901-234567890abc',
  status: 'completed',
  trigger: 'schedule',
  created_at: '2026-11-26T02:00:00Z',
  completed_at: '2026-11-26T02:00:05Z',
  age_seconds: 7200,
  duration_seconds: 5,
  size_bytes: 2048,
  rows_reused: null,
  rows_read: null,
  ...overrides,
});

function status(overrides: Partial<StatusResponse> = {}): StatusResponse {
  return {
    last_backup: backup(),
    last_drill: {
      id: 'd1',
      backup_id: backup().id,
      status: 'passed',
      completed_at: new Date().toISOString(),
      error_message: null,
    },
    stale: false,
    stale_after: '36h',
    notify: { configured: true, targets: ['#1 json://hooks.example…'], ping_configured: false, last_error: null, undelivered: 0 },
    timezone: 'Europe/Berlin',
    next_backup_at: '2026-11-27T01:00:00Z',
    recent_backups: [backup(), backup({ id: 'b2', status: 'failed', size_bytes: null, duration_seconds: 1 })],
    ...overrides,
  };
}

function renderWith(node: ReactNode) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(<QueryClientProvider client={client}>{node}</QueryClientProvider>);
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('HealthLine', () => {
  it('shows the last backup, its age, the next scheduled time in the schedule zone and the last drill', async () => {
    stubFetch(routes({ 'GET /api/status': json(status()) }));
    renderWith(<HealthLine />);
    const line = await screen.findByTestId('health');
    expect(line.dataset.state).toBe('ok');
    expect(screen.getByTestId('health-backup').textContent).toBe('Last backup 2 h ago');
    expect(screen.getByTestId('health-next').textContent).toBe('Next scheduled: Fri 27 Nov, 02:00 Europe/Berlin');
    expect(screen.getByTestId('health-drill').textContent).toContain('passed');
    expect(screen.queryByTestId('health-notify-error')).toBeNull();
  });

  it('says stale and shows the last notification error', async () => {
    stubFetch(
      routes({
        'GET /api/status': json(
          status({
            stale: true,
            last_backup: backup({ age_seconds: 40 * 3600 }),
            notify: { ...status().notify, last_error: '#1 json://hooks.example…: answered 500' },
          }),
        ),
      }),
    );
    renderWith(<HealthLine />);
    const line = await screen.findByTestId('health');
    expect(line.dataset.state).toBe('attention');
    expect(screen.getByTestId('health-backup').textContent).toBe('Last backup 40 h ago stale (older than 36h)');
    expect(screen.getByTestId('health-notify-error').textContent).toBe(
      'Last notification failed: #1 json://hooks.example…: answered 500',
    );
  });

  it('formats ages and zone times', () => {
    expect(formatAge(30)).toBe('30 s');
    expect(formatAge(600)).toBe('10 min');
    expect(formatAge(5 * 86400)).toBe('5 days');
    expect(inZone('2026-07-01T00:30:00Z', 'America/New_York')).toBe('Tue 30 Jun, 20:30 America/New_York');
  });
});

describe('NotificationsCard', () => {
  it('sends a test notification', async () => {
    const calls = stubFetch(
      routes({ 'GET /api/status': json(status()), 'POST /api/notify/test': json({ queued: 1 }, 202) }),
    );
    renderWith(<NotificationsCard />);
    expect(await screen.findByText('#1 json://hooks.example…')).toBeTruthy();
    fireEvent.click(screen.getByTestId('notify-test'));
    await screen.findByText('Test notification queued for 1 target.');
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.url)).toEqual(['/api/notify/test']);
  });

  it('says how to configure when nothing is, with no test button', async () => {
    stubFetch(
      routes({
        'GET /api/status': json(status({ notify: { ...status().notify, configured: false, targets: [] } })),
        'POST /api/notify/test': detail(400, 'No notification target configured'),
      }),
    );
    renderWith(<NotificationsCard />);
    expect((await screen.findByTestId('notify-unconfigured')).textContent).toContain('BACKUPD_NOTIFY');
    expect(screen.queryByTestId('notify-test')).toBeNull();
  });
});

describe('BackupChart', () => {
  it('draws a bar per completed backup, a mark per failed one, and the duration line', async () => {
    stubFetch(routes({ 'GET /api/status': json(status()) }));
    renderWith(<BackupChart />);
    await screen.findByTestId('backup-chart');
    expect(screen.getAllByTestId('chart-bar')).toHaveLength(1);
    expect(screen.getAllByTestId('chart-failed')).toHaveLength(1);
    expect(screen.getByTestId('backup-chart-svg').getAttribute('aria-label')).toBe(
      '1 completed and 1 failed backups; largest 2 KB, longest 5.0 s',
    );
  });

  it('shades the share of each bar reused from the previous backup', () => {
    const reused = backup({ id: 'r1', rows_reused: 900, rows_read: 100 });
    const read = backup({ id: 'r2', rows_reused: 0, rows_read: 1000 });
    expect(reusedShare(reused)).toBeCloseTo(0.9);
    expect(reusedShare(read)).toBe(0);
    expect(reusedShare(backup())).toBe(0); // not recorded (an older backup)
    render(<Chart backups={[reused, read, backup({ id: 'r3' })]} />);
    const shaded = screen.getAllByTestId('chart-reused');
    expect(shaded).toHaveLength(1);
    const bar = screen.getAllByTestId('chart-bar')[2]; // oldest on the left: `reused` is drawn last
    expect(Number(shaded[0].getAttribute('height'))).toBeCloseTo(Number(bar.getAttribute('height')) * 0.9);
    expect(bar.textContent).toContain('90% of the rows reused from the previous backup');
  });

  it('says so when there is no backup', async () => {
    renderWith(<Chart backups={[]} />);
    await waitFor(() => expect(screen.getByText('No backup yet.')).toBeTruthy());
  });
});
