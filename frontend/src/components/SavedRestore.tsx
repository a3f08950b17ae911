import { useEffect, useState } from 'react';

import { isRestoreActive, useRestoreJob } from '../hooks/useBackup';
import type { BackupListItem } from '../types/backup';
import { formatDateTime } from '../utils/format';
import { RestoreJobView } from './RestoreJobView';
import { SAVED_STAGES, Stepper, useRestoreStage } from './Stepper';
import { UndoRestore } from './UndoRestore';

export interface SavedRestoreProps {
  backup: BackupListItem;
  jobId: string;
  /** Hides the finished restore (its job stays on the server). */
  onDismiss: () => void;
  /** Told whether the restore, or its undo, is still starting or running. */
  onBusyChange?: (busy: boolean) => void;
}

/** The progress and outcome of restoring a saved backup, with "Undo this restore" once completed. */
export function SavedRestore({ backup, jobId, onDismiss, onBusyChange }: SavedRestoreProps) {
  const job = useRestoreJob(jobId);
  const data = job.data;
  const { stage } = useRestoreStage(data, true);
  const [undoActive, setUndoActive] = useState(false);
  const finished = ((!!data && !isRestoreActive(data.status)) || !!job.error) && !undoActive;
  useEffect(() => onBusyChange?.(!finished), [finished, onBusyChange]);

  return (
    <div className="job" aria-live="polite" data-testid="saved-restore-job" data-job-id={jobId}>
      <div className="job-header">
        <h3 className="job-title">Restore of the backup from {formatDateTime(backup.created_at)}</h3>
        {finished ? (
          <button type="button" className="button" onClick={onDismiss}>
            Close
          </button>
        ) : null}
      </div>
      <Stepper stages={SAVED_STAGES} current={stage} failed={data?.status === 'failed'} />
      {job.error ? (
        <p className="message message-error" role="alert">
          Could not read the restore's progress: {job.error.message}
        </p>
      ) : null}
      {!data && !job.error ? <p className="status-line">Starting the restore…</p> : null}
      {data ? (
        <RestoreJobView data={data} completedActions={<UndoRestore job={data} onActiveChange={setUndoActive} />} />
      ) : null}
    </div>
  );
}
