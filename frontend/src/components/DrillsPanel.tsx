import { useState } from 'react';

import { useDrills, useSchedule, useStartDrill } from '../hooks/useAutomation';
import { useBackupList } from '../hooks/useBackup';
import { useCan } from '../hooks/useWhoAmI';
import type { DrillResult } from '../types/backup';
import { formatDateTime } from '../utils/format';
import { isActive, statusWord } from '../utils/jobStatus';
import { formatRelative } from '../utils/schedule';

function summary(drill: DrillResult): string {
  if (drill.error_message) return drill.error_message;
  const tables = Object.values(drill.tables);
  if (!tables.length) return isActive('drill', drill.status) ? 'Restoring into the staging database…' : '';
  const rows = tables.reduce((n, t) => n + (t.restored_rows ?? 0), 0);
  const matching = tables.filter((t) => t.checksum_match).length;
  return `${matching} of ${tables.length} tables identical, ${rows.toLocaleString('en')} rows`;
}

export function DrillsPanel() {
  const drills = useDrills();
  const schedule = useSchedule();
  const backups = useBackupList();
  const start = useStartDrill();
  const canDrill = useCan('drill');
  const [chosen, setChosen] = useState('');

  const history = drills.data?.drills ?? [];
  const finished = history.find((d) => d.status === 'passed' || d.status === 'failed');
  const running = history.find((d) => isActive('drill', d.status));
  const saved = backups.data?.backups.filter((b) => b.status === 'completed') ?? [];
  const target = chosen || saved[0]?.id || '';
  const configured = schedule.data?.drill_configured ?? true;

  return (
    <section className="card" aria-labelledby="drills-heading" data-testid="drills">
      <h2 id="drills-heading">Restore drills</h2>
      <p className="lead">
        A drill restores a saved backup into a separate staging database and checks that every row came back
        identical.
      </p>
      <p className="drill-verdict" data-testid="last-drill">
        {finished ? (
          <>
            Last verified restore:{' '}
            <span className={`badge badge-${finished.status}`}>{statusWord('drill', finished.status)}</span>,{' '}
            <time dateTime={finished.completed_at ?? ''}>{formatRelative(finished.completed_at)}</time>
          </>
        ) : drills.data ? (
          'No restore drill yet.'
        ) : null}
      </p>
      {drills.error ? (
        <p className="message message-error">Could not load the drills: {drills.error.message}</p>
      ) : null}
      {!configured ? (
        <p className="hint">Drills need a staging database: set BACKUPD_DRILL_DATABASE_URL on the server.</p>
      ) : null}

      <form
        hidden={!canDrill}
        className="drill-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (target) start.mutate(target);
        }}
      >
        <label htmlFor="drill-backup">Backup to drill</label>
        <select
          id="drill-backup"
          className="input"
          value={target}
          onChange={(e) => setChosen(e.target.value)}
          disabled={!saved.length}
        >
          {saved.length ? null : <option value="">No saved backups</option>}
          {saved.map((b) => (
            <option key={b.id} value={b.id}>
              {formatDateTime(b.created_at)}
              {b.trigger === 'schedule' ? ' (scheduled)' : b.trigger === 'safety' ? ' (safety)' : ''}
            </option>
          ))}
        </select>
        <button type="submit" className="button" disabled={!target || start.isPending || !!running}>
          {running ? 'Drill running…' : 'Start drill'}
        </button>
      </form>
      {start.error ? (
        <p className="message message-error" role="alert">
          Could not start the drill: {start.error.message}
        </p>
      ) : null}

      {history.length ? (
        <table className="counts drill-history" aria-label="Drill history, newest first">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Result</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {history.map((d) => (
              <tr key={d.id} data-drill-id={d.id}>
                <td>
                  <time dateTime={d.created_at ?? ''}>{formatDateTime(d.created_at)}</time>
                  {d.trigger === 'schedule' ? <span className="hint"> scheduled</span> : null}
                </td>
                <td>
                  <span className={`badge badge-${d.status}`}>{statusWord('drill', d.status)}</span>
                </td>
                <td className="drill-detail">{summary(d)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
