import { useRef, useState } from 'react';

import type { UndoRestore as Undo } from '../hooks/useRestore';
import type { RestoreJob } from '../types/backup';
import { formatDateTime, joinWithAnd } from '../utils/format';
import { tableWords } from '../utils/tables';
import { ConfirmDialog } from './ConfirmDialog';
import { RestoreJobView } from './RestoreJobView';

export interface UndoRestoreProps {
  /** A completed restore; without a `safety_backup_id` there is nothing to offer. */
  job: RestoreJob;
  /** Its undo (useRestoreRun): the page that follows the restore also knows whether the undo runs. */
  undo: Undo;
}

/**
 * "Undo this restore", after a confirmation, and that undo's progress. The undo is itself
 * taken with a safety backup, an ordinary "safety" backup in the list, so it can be undone there.
 */
export function UndoRestore({ job, undo }: UndoRestoreProps) {
  const [confirming, setConfirming] = useState(false);
  const statusRef = useRef<HTMLDivElement>(null);
  if (!undo.safetyId) return null;

  // null: the restore replaced every table of its backup.
  const names = job.tables?.length ? joinWithAnd(job.tables.map(tableWords)) : null;
  const started = !!undo.jobId;
  const undoneText = undo.job.data ? undoneSentence(undo.job.data, names) : '';

  return (
    <div className="undo">
      {!started ? (
        <button
          type="button"
          className="button"
          onClick={() => {
            undo.start.reset();
            setConfirming(true);
          }}
        >
          Undo this restore
        </button>
      ) : null}

      {started ? (
        <div
          className="job"
          ref={statusRef}
          tabIndex={-1}
          aria-live="polite"
          data-testid="undo-job"
          data-job-id={undo.jobId ?? undefined}
        >
          <h3 className="job-title">Undoing the restore</h3>
          <RestoreJobView job={undo.job} subject="undo" progressLabel="Undo progress" completedText={undoneText} />
        </div>
      ) : null}

      {confirming ? (
        <ConfirmDialog
          title="Undo this restore?"
          confirmLabel="Undo the restore"
          busy={undo.start.isPending}
          busyLabel="Starting…"
          error={undo.start.error ? `Could not start the undo: ${undo.start.error.message}` : null}
          fallbackFocusRef={statusRef}
          onCancel={() => setConfirming(false)}
          onConfirm={() => undo.run(() => setConfirming(false))}
        >
          <p>
            This puts {names ? `the ${names}` : 'the data'} back as {names ? 'they were' : 'it was'} just before the
            restore, from the safety backup taken then.
          </p>
          <p>
            Anything written to {names ? 'these tables' : 'the restored tables'} since the restore
            {job.completed_at ? ` (${formatDateTime(job.completed_at)})` : ''} is replaced too; a safety backup of the
            data as it is now is taken first, so the undo can itself be undone from the list.
          </p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

/** "Undone {when}: the events are back as they were just before the restore. …" */
function undoneSentence(undone: RestoreJob, names: string | null): string {
  const back = names ? `the ${names} are back as they were` : 'the data is back as it was';
  const kept = undone.safety_backup_id ? ' What the undo replaced is kept as a safety backup in the list.' : '';
  return `Undone ${formatDateTime(undone.completed_at)}: ${back} just before the restore.${kept}`;
}
