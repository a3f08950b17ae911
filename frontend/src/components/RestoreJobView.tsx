import type { ReactNode } from 'react';

import type { JobQuery } from '../hooks/useJob';
import type { RestoreJob } from '../types/backup';
import { formatDateTime, joinWithAnd } from '../utils/format';
import { orderedCounts, tableLabel, tableWords } from '../utils/tables';
import { JobProgress } from './JobProgress';

export interface RestoreJobViewProps {
  job: JobQuery<'restore'>;
  /** What the sentences call the job (default "restore"). */
  subject?: string;
  /** Accessible name of the progress bar. */
  progressLabel?: string;
  /** Says "Starting the {subject}…" until the first status (default true). */
  announceStart?: boolean;
  /** Replaces the first sentence shown once the job has completed. */
  completedText?: string;
  /** Shown under the outcome of a completed job (e.g. "Undo this restore"). */
  completedActions?: ReactNode;
}

/** A restore job's status, progress bar and, once it has ended, its outcome (rows per table, undo). */
export function RestoreJobView({
  job,
  subject = 'restore',
  progressLabel = 'Restore progress',
  announceStart,
  completedText,
  completedActions,
}: RestoreJobViewProps) {
  return (
    <JobProgress kind="restore" job={job} subject={subject} progressLabel={progressLabel} announceStart={announceStart}>
      {job.data ? (
        <>
          <p className="message message-success">{completedText ?? completedSentence(job.data)}</p>
          {job.data.items_restored ? <RestoredCounts counts={job.data.items_restored} /> : null}
          {completedActions}
        </>
      ) : null}
    </JobProgress>
  );
}

/** "The data is now as it was" / "The events and settings are now as they were". */
function nowAsItWas(tables: string[] | null | undefined): string {
  if (!tables || tables.length === 0) return 'The data is now as it was';
  const plural = tables.length > 1 || /s$/.test(tables[0]);
  return `The ${joinWithAnd(tables.map(tableWords))} ${plural ? 'are now as they were' : 'is now as it was'}`;
}

/** "Restore completed {when}. The events are now as they were on {backup's date}. The other tables …" */
function completedSentence(data: RestoreJob): string {
  return (
    `Restore completed ${formatDateTime(data.completed_at)}.` +
    (data.backup_created_at ? ` ${nowAsItWas(data.tables)} on ${formatDateTime(data.backup_created_at)}.` : '') +
    (data.tables?.length ? ' The other tables were left as they were.' : '')
  );
}

function RestoredCounts({ counts }: { counts: Record<string, number> }) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return (
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
        {orderedCounts(counts).map(([table, count]) => (
          <tr key={table} data-table={table}>
            <th scope="row">{tableLabel(table)}</th>
            <td className="num">{count.toLocaleString()}</td>
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row">Total</th>
          <td className="num">{total.toLocaleString()}</td>
        </tr>
      </tfoot>
    </table>
  );
}
