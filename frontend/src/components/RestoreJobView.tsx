import type { ReactNode } from 'react';

import { isRestoreActive } from '../hooks/useBackup';
import type { RestoreJob } from '../types/backup';
import { tableWords } from '../utils/changes';
import { formatDateTime, joinWithAnd, orderedCounts, tableLabel } from '../utils/format';
import { ProgressBar } from './ProgressBar';

export const RESTORE_STATUS_TEXT: Record<RestoreJob['status'], string> = {
  pending: 'Waiting to start…',
  validating: 'Validating the backup…',
  restoring: 'Restoring the data…',
  completed: 'Restore completed',
  failed: 'Restore failed',
};

export interface RestoreJobViewProps {
  data: RestoreJob;
  /** Accessible name of the progress bar. */
  progressLabel?: string;
  /** Replaces the first sentence shown once the job has completed. */
  completedText?: string;
  /** Shown under the outcome of a completed job (e.g. "Undo this restore"). */
  completedActions?: ReactNode;
}

/** "The data is now as it was" / "The events and settings are now as they were". */
function nowAsItWas(tables: string[] | null | undefined): string {
  if (!tables || tables.length === 0) return 'The data is now as it was';
  const plural = tables.length > 1 || /s$/.test(tables[0]);
  return `The ${joinWithAnd(tables.map(tableWords))} ${plural ? 'are now as they were' : 'is now as it was'}`;
}

/** A restore job's status, progress bar and, once it has ended, its outcome (rows per table, undo). */
export function RestoreJobView({ data, progressLabel = 'Restore progress', completedText, completedActions }: RestoreJobViewProps) {
  const active = isRestoreActive(data.status);
  return (
    <>
      <p className="status-line">
        <span className={`badge badge-${data.status}`} data-testid="restore-status">
          {RESTORE_STATUS_TEXT[data.status] ?? data.status}
        </span>
        {active && data.progress.current_step ? <span className="current-step">{data.progress.current_step}</span> : null}
      </p>
      <ProgressBar
        label={progressLabel}
        value={data.status === 'completed' ? 100 : data.progress.progress_percent}
        valueText={data.progress.current_step ?? RESTORE_STATUS_TEXT[data.status]}
        tone={data.status === 'failed' ? 'failed' : data.status === 'completed' ? 'done' : 'active'}
      />
      <p className="hint">
        {data.progress.completed_tables} of {data.progress.total_tables} tables
      </p>

      {data.status === 'failed' ? (
        <p className="message message-error" role="alert">
          Restore failed: {data.error_message || 'the server gave no reason.'} Nothing was changed.
        </p>
      ) : null}

      {data.status === 'completed' ? (
        <div className="result">
          <p className="message message-success">
            {completedText ?? `Restore completed ${formatDateTime(data.completed_at)}.`}
            {!completedText && data.backup_created_at
              ? ` ${nowAsItWas(data.tables)} on ${formatDateTime(data.backup_created_at)}.`
              : ''}
            {!completedText && data.tables?.length ? ' The other tables were left as they were.' : ''}
          </p>
          {data.items_restored ? (
            <table className="counts" data-testid="items-restored">
              <caption>Rows restored per table</caption>
              <thead>
                <tr>
                  <th scope="col">Table</th>
                  <th scope="col" className="num">
                    Rows
                  </th>
                </tr>
              </thead>
              <tbody>
                {orderedCounts(data.items_restored).map(([table, count]) => (
                  <tr key={table} data-table={table}>
                    <th scope="row">{tableLabel(table)}</th>
                    <td className="num">{count.toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row">Total</th>
                  <td className="num">
                    {Object.values(data.items_restored)
                      .reduce((a, b) => a + b, 0)
                      .toLocaleString()}
                  </td>
                </tr>
              </tfoot>
            </table>
          ) : null}
          {completedActions}
        </div>
      ) : null}
    </>
  );
}
