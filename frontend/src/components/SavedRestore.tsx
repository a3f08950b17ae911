import type { RestoreRun } from '../hooks/useRestore';
import { useRestoreStage } from '../hooks/useRestoreStage';
import type { BackupListItem } from '../types/backup';
import { formatDateTime } from '../utils/format';
import { RestoreJobView } from './RestoreJobView';
import { SAVED_STAGES, Stepper } from './Stepper';
import { UndoRestore } from './UndoRestore';

export interface SavedRestoreProps {
  backup: BackupListItem;
  jobId: string;
  /** The restore and its undo, followed by the list (which starts no other restore meanwhile). */
  run: RestoreRun;
  /** Hides the finished restore (its job stays on the server). */
  onDismiss: () => void;
}

/** The progress and outcome of restoring a saved backup, with "Undo this restore" once completed. */
export function SavedRestore({ backup, jobId, run, onDismiss }: SavedRestoreProps) {
  const data = run.job.data;
  const { stage } = useRestoreStage(data, true);

  return (
    <div className="job" aria-live="polite" data-testid="saved-restore-job" data-job-id={jobId}>
      <div className="job-header">
        <h3 className="job-title">Restore of the backup from {formatDateTime(backup.created_at)}</h3>
        {run.ended ? (
          <button type="button" className="button" onClick={onDismiss}>
            Close
          </button>
        ) : null}
      </div>
      <Stepper stages={SAVED_STAGES} current={stage} failed={data?.status === 'failed'} />
      <RestoreJobView job={run.job} completedActions={data ? <UndoRestore job={data} undo={run.undo} /> : null} />
    </div>
  );
}
