import { useRef, useState } from 'react';

import { useBackupList, useDeleteBackup, usePinBackup } from '../hooks/useBackup';
import { useRestoreRun } from '../hooks/useRestore';
import type { BackupListItem } from '../types/backup';
import { formatBytes, formatDateTime } from '../utils/format';
import { BackupItem } from './BackupItem';
import { ConfirmDialog } from './ConfirmDialog';
import { RestoreBackupDialog } from './RestoreBackupDialog';
import { SavedRestore } from './SavedRestore';

export interface BackupListProps {
  onDeleted?: (jobId: string) => void;
}

export function BackupList({ onDeleted }: BackupListProps) {
  const list = useBackupList();
  const remove = useDeleteBackup();
  const pin = usePinBackup();
  const [toDelete, setToDelete] = useState<BackupListItem | null>(null);
  const [toRestore, setToRestore] = useState<BackupListItem | null>(null);
  const [restoring, setRestoring] = useState<{ backup: BackupListItem; jobId: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const run = useRestoreRun(restoring?.jobId);
  // No second restore from the list while one (or its undo) runs.
  const restoreRunning = !!restoring && !run.ended;

  const backups = list.data?.backups ?? [];
  const total = list.data?.total ?? backups.length;

  return (
    <section className="card" aria-labelledby="list-heading">
      <div className="card-header">
        <h2 id="list-heading" ref={headingRef} tabIndex={-1}>
          Saved backups
        </h2>
        {list.data ? (
          <span className="count">
            <span aria-hidden="true">{total}</span>
            <span className="visually-hidden">{total} backups</span>
          </span>
        ) : null}
      </div>

      <p className="visually-hidden" aria-live="polite">
        {notice ?? ''}
      </p>

      {list.isPending ? <p className="hint">Loading backups…</p> : null}

      {list.error ? (
        <div className="message message-error" role="alert">
          <p>Could not load the backups: {list.error.message}</p>
          <button type="button" className="button" onClick={() => void list.refetch()}>
            Try again
          </button>
        </div>
      ) : null}

      {pin.error ? (
        <p className="message message-error" role="alert">
          Could not change the pin: {pin.error.message}
        </p>
      ) : null}

      {list.data && backups.length === 0 ? (
        <p className="empty">No backups yet. Create one above; it will appear here.</p>
      ) : null}

      {backups.length > 0 ? (
        <ul className="backup-list" aria-label="Backups, newest first">
          {backups.map((backup) => (
            <BackupItem
              key={backup.id}
              backup={backup}
              restoreDisabled={restoreRunning}
              pinning={pin.isPending && pin.variables?.id === backup.id}
              onPin={(pinned) => pin.mutate({ id: backup.id, pinned })}
              onRestore={() => setToRestore(backup)}
              onDelete={() => {
                remove.reset();
                setToDelete(backup);
              }}
            />
          ))}
        </ul>
      ) : null}

      {restoring ? (
        <SavedRestore
          key={restoring.jobId}
          backup={restoring.backup}
          jobId={restoring.jobId}
          run={run}
          onDismiss={() => setRestoring(null)}
        />
      ) : null}

      {toRestore ? (
        <RestoreBackupDialog
          backup={toRestore}
          fallbackFocusRef={headingRef}
          onCancel={() => setToRestore(null)}
          onStarted={(jobId) => {
            setRestoring({ backup: toRestore, jobId });
            setToRestore(null);
          }}
        />
      ) : null}

      {toDelete ? (
        <ConfirmDialog
          title="Delete this backup?"
          confirmLabel="Delete backup"
          busy={remove.isPending}
          busyLabel="Deleting…"
          error={remove.error ? `Could not delete: ${remove.error.message}` : null}
          fallbackFocusRef={headingRef}
          onCancel={() => setToDelete(null)}
          onConfirm={() => {
            const target = toDelete;
            remove.mutate(target.id, {
              onSuccess: () => {
                setNotice(`Deleted the backup from ${formatDateTime(target.created_at)}.`);
                onDeleted?.(target.id);
                setToDelete(null);
              },
            });
          }}
        >
          <p>
            The backup from <strong>{formatDateTime(toDelete.created_at)}</strong> (
            {formatBytes(toDelete.file_size_bytes)}) will be removed from the server. This cannot be undone.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
