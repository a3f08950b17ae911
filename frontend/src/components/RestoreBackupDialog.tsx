import type { RefObject } from 'react';
import { useId, useState } from 'react';

import { useRestoreBackup, useRestorePreview } from '../hooks/useRestore';
import type { BackupListItem, RestoreOptions, TableChanges } from '../types/backup';
import { describeTableChanges, hasNoChange } from '../utils/changes';
import { formatBytes, formatDateTime } from '../utils/format';
import { isActive } from '../utils/jobStatus';
import { orderedTables, tableLabel } from '../utils/tables';
import { ConfirmDialog } from './ConfirmDialog';
import { ProgressBar } from './ProgressBar';
import { SafetyBackupOption } from './SafetyBackupOption';

export interface RestoreBackupDialogProps {
  backup: BackupListItem;
  /** The real restore has started (the dialog is then closed by the parent). */
  onStarted: (jobId: string, options: RestoreOptions) => void;
  onCancel: () => void;
  fallbackFocusRef?: RefObject<HTMLElement | null>;
}

function TableChoice({
  table,
  changes,
  checked,
  onToggle,
}: {
  table: string;
  changes: TableChanges;
  checked: boolean;
  onToggle: (checked: boolean) => void;
}) {
  const detailId = useId();
  const quiet = hasNoChange(changes);
  return (
    <li className={quiet ? 'table-choice table-choice-quiet' : 'table-choice'} data-table={table}>
      <label className="check">
        <input
          type="checkbox"
          checked={checked}
          aria-describedby={detailId}
          onChange={(event) => onToggle(event.target.checked)}
        />
        <span className="table-choice-name">{tableLabel(table)}</span>
      </label>
      <span id={detailId} className="table-choice-detail">
        {checked ? describeTableChanges(table, changes) : 'Left as it is now'}
      </span>
    </li>
  );
}

/**
 * "Restore…" of a saved backup: a dry run first shows what would change per table, in words; the
 * user may untick tables and keep (default) or drop the safety backup; then the real restore starts.
 */
export function RestoreBackupDialog({ backup, onStarted, onCancel, fallbackFocusRef }: RestoreBackupDialogProps) {
  const preview = useRestorePreview(backup.id);
  const start = useRestoreBackup();
  const [unticked, setUnticked] = useState<ReadonlySet<string>>(() => new Set());
  const [safety, setSafety] = useState(true);

  const dry = preview.job.data;
  const changes = dry?.status === 'completed' ? (dry.changes ?? null) : null;
  const tables = changes ? orderedTables(Object.keys(changes)) : [];
  const ticked = tables.filter((t) => !unticked.has(t));
  const previewError =
    preview.start.error?.message ??
    preview.job.error?.message ??
    (dry?.status === 'failed' ? (dry.error_message ?? 'the server gave no reason.') : null) ??
    (dry?.status === 'completed' && !dry.changes ? 'the server did not report what would change.' : null);
  const checking = !previewError && !changes;
  const created = formatDateTime(backup.created_at);

  function toggle(table: string, checked: boolean) {
    setUnticked((prev) => {
      const next = new Set(prev);
      if (checked) next.delete(table);
      else next.add(table);
      return next;
    });
  }

  function confirm() {
    // Every table ticked: no list, so the restore replaces the whole archive (job.tables = null).
    const options: RestoreOptions = { safety_backup: safety };
    if (ticked.length < tables.length) options.tables = ticked;
    start.mutate({ backupId: backup.id, options }, { onSuccess: (res) => onStarted(res.job_id, options) });
  }

  return (
    <ConfirmDialog
      title="Restore this backup?"
      confirmLabel={!changes ? 'Restore' : ticked.length === 1 ? 'Restore 1 table' : `Restore ${ticked.length} tables`}
      busy={start.isPending}
      busyLabel="Starting the restore…"
      confirmDisabled={!changes || ticked.length === 0}
      error={start.error ? `Could not start the restore: ${start.error.message}` : null}
      fallbackFocusRef={fallbackFocusRef}
      onCancel={onCancel}
      onConfirm={confirm}
      className="dialog-wide"
    >
      <p>
        The backup from <strong>{created}</strong> ({formatBytes(backup.file_size_bytes)}
        {backup.encrypted ? ', encrypted' : ''}) replaces the ticked tables in the database.
      </p>

      <div aria-live="polite" data-testid="restore-preview" data-job-id={dry?.id}>
        {checking ? (
          <div className="preview-checking">
            <p>Checking what the restore would change (a dry run, nothing is changed)…</p>
            <ProgressBar
              label="Dry run progress"
              value={dry?.progress.progress_percent ?? 0}
              valueText={dry?.progress.current_step ?? 'Starting'}
            />
            {dry && isActive('restore', dry.status) && dry.progress.current_step ? (
              <p className="hint">{dry.progress.current_step}</p>
            ) : null}
          </div>
        ) : null}

        {previewError ? (
          <div className="message message-error" role="alert">
            <p>Could not check this backup: {previewError}</p>
            <button type="button" className="button" onClick={preview.retry}>
              Check again
            </button>
          </div>
        ) : null}

        {changes ? (
          <fieldset className="table-choices">
            <legend>Compared with the data now, restoring this backup changes:</legend>
            <ul>
              {tables.map((table) => (
                <TableChoice
                  key={table}
                  table={table}
                  changes={changes[table]}
                  checked={!unticked.has(table)}
                  onToggle={(checked) => toggle(table, checked)}
                />
              ))}
            </ul>
            {ticked.length === 0 ? (
              <p className="hint hint-warning">Tick at least one table to restore.</p>
            ) : ticked.length < tables.length ? (
              <p className="hint">Unticked tables are left as they are now.</p>
            ) : null}
          </fieldset>
        ) : null}
      </div>

      <SafetyBackupOption checked={safety} onChange={setSafety} />
    </ConfirmDialog>
  );
}
