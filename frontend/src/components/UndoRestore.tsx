import { useEffect, useRef, useState } from 'react';

import { isRestoreActive, useRestoreBackup, useRestoreJob } from '../hooks/useBackup';
import type { RestoreJob, RestoreOptions } from '../types/backup';
import { tableWords } from '../utils/changes';
import { formatDateTime, joinWithAnd } from '../utils/format';
import { ConfirmDialog } from './ConfirmDialog';
import { RestoreJobView } from './RestoreJobView';

export interface UndoRestoreProps {
  /** A completed restore with a `safety_backup_id`. */
  job: RestoreJob;
  /** Told whether the undo is starting or running (the page then starts no other restore). */
  onActiveChange?: (active: boolean) => void;
}

/**
 * "Undo this restore": restores the restore's safety backup (the rows it replaced, saved just
 * before the swap), after a confirmation, and shows that job's progress.
 *
 * The undo takes a safety backup of its own (`safety_backup: true`): it replaces the same tables
 * again, and anything written to them since the restore would otherwise be gone without a copy.
 * That copy is an ordinary "safety" backup in the list, so the undo can itself be undone there.
 */
export function UndoRestore({ job, onActiveChange }: UndoRestoreProps) {
  const [confirming, setConfirming] = useState(false);
  const start = useRestoreBackup();
  const undoJobId = start.data?.job_id ?? null;
  const undo = useRestoreJob(undoJobId);
  const statusRef = useRef<HTMLDivElement>(null);
  const active = start.isPending || (!!undoJobId && !undo.error && (!undo.data || isRestoreActive(undo.data.status)));
  useEffect(() => onActiveChange?.(active), [active, onActiveChange]);
  const safetyId = job.safety_backup_id;
  if (!safetyId) return null;

  // null: the restore replaced every table of its backup.
  const names = job.tables?.length ? joinWithAnd(job.tables.map(tableWords)) : null;
  // A subset restore's safety backup holds just those tables: name them, so that the server
  // replaces exactly them (a restore without `tables` expects the whole configured set).
  const options: RestoreOptions = job.tables?.length ? { tables: job.tables, safety_backup: true } : { safety_backup: true };
  const data = undo.data;
  const started = !!undoJobId;
  const undoneText = data
    ? `Undone ${formatDateTime(data.completed_at)}: ${names ? `the ${names} are back as they were` : 'the data is back as it was'}` +
      ' just before the restore.' +
      (data.safety_backup_id ? ' What the undo replaced is kept as a safety backup in the list.' : '')
    : '';

  return (
    <div className="undo">
      {!started ? (
        <button
          type="button"
          className="button"
          onClick={() => {
            start.reset();
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
          data-job-id={undoJobId ?? undefined}
        >
          <h3 className="job-title">Undoing the restore</h3>
          {undo.error ? (
            <p className="message message-error" role="alert">
              Could not read the undo's progress: {undo.error.message}
            </p>
          ) : null}
          {!data && !undo.error ? <p className="status-line">Starting the undo…</p> : null}
          {data ? (
            <RestoreJobView data={data} progressLabel="Undo progress" completedText={undoneText} />
          ) : null}
        </div>
      ) : null}

      {confirming ? (
        <ConfirmDialog
          title="Undo this restore?"
          confirmLabel="Undo the restore"
          busy={start.isPending}
          busyLabel="Starting…"
          error={start.error ? `Could not start the undo: ${start.error.message}` : null}
          fallbackFocusRef={statusRef}
          onCancel={() => setConfirming(false)}
          onConfirm={() => start.mutate({ backupId: safetyId, options }, { onSuccess: () => setConfirming(false) })}
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
