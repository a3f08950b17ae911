import { useRef, useState } from 'react';

import { usePinBackup } from '../hooks/useAutomation';
import { useBackupList, useDeleteBackup } from '../hooks/useBackup';
import type { BackupListItem } from '../types/backup';
import { formatBytes, formatDateTime } from '../utils/format';
import { ConfirmDialog } from './ConfirmDialog';
import { DownloadLink } from './DownloadLink';
import { EncryptedBadge } from './EncryptedBadge';
import { RestoreBackupDialog } from './RestoreBackupDialog';
import { SavedRestore } from './SavedRestore';

const TRIGGER_TEXT = { manual: 'manual', schedule: 'scheduled', safety: 'safety' } as const;

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
  // No second restore from the list while one (or its undo) runs.
  const [restoreRunning, setRestoreRunning] = useState(false);

  const backups = list.data?.backups ?? [];
  const total = list.data?.total ?? backups.length;

  return (
    <section className="card" aria-labelledby="list-heading">
      <div className="card-header">
        <h2 id="list-heading" ref={headingRef} tabIndex={-1}>
          Saved backups
        </h2>
        {list.data ? (
          <span className="count" aria-label={`${total} backups`}>
            {total}
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
          {backups.map((backup) => {
            const created = formatDateTime(backup.created_at);
            const trigger = backup.trigger ?? 'manual';
            return (
              <li key={backup.id} className="backup-item" data-backup-id={backup.id}>
                <div className="backup-info">
                  <time className="backup-created" dateTime={backup.created_at}>
                    {created}
                  </time>
                  <span className="backup-size">{formatBytes(backup.file_size_bytes)}</span>
                  <span className="backup-id" title={backup.id}>
                    {backup.id}
                  </span>
                  <span className="backup-tags">
                    <span className={`badge badge-trigger badge-${trigger}`} data-testid="trigger-badge">
                      {TRIGGER_TEXT[trigger] ?? trigger}
                    </span>
                    {backup.pinned ? (
                      <span className="badge badge-pinned" title="Retention never removes a pinned backup">
                        pinned
                      </span>
                    ) : null}
                    {backup.encrypted ? <EncryptedBadge /> : null}
                  </span>
                </div>
                <div className="backup-actions">
                  <button
                    type="button"
                    className="button button-pin"
                    aria-pressed={!!backup.pinned}
                    aria-label={`${backup.pinned ? 'Unpin' : 'Pin'} the backup from ${created}`}
                    disabled={pin.isPending && pin.variables?.id === backup.id}
                    onClick={() => pin.mutate({ id: backup.id, pinned: !backup.pinned })}
                  >
                    {backup.pinned ? 'Unpin' : 'Pin'}
                  </button>
                  {backup.status === 'completed' ? (
                    <button
                      type="button"
                      className="button"
                      aria-label={`Restore the backup from ${created}…`}
                      disabled={restoreRunning}
                      onClick={() => setToRestore(backup)}
                    >
                      Restore…
                    </button>
                  ) : null}
                  {backup.status === 'completed' ? (
                    <DownloadLink
                      jobId={backup.id}
                      href={backup.download_url}
                      ariaLabel={`Download the backup from ${created}`}
                    >
                      Download
                    </DownloadLink>
                  ) : (
                    <span className={`badge badge-${backup.status}`}>{backup.status}</span>
                  )}
                  <button
                    type="button"
                    className="button button-danger-outline"
                    aria-label={`Delete the backup from ${created}`}
                    onClick={() => {
                      remove.reset();
                      setToDelete(backup);
                    }}
                  >
                    Delete
                  </button>
                </div>
              </li>
            );
          })}
        </ul>
      ) : null}

      {restoring ? (
        <SavedRestore
          key={restoring.jobId}
          backup={restoring.backup}
          jobId={restoring.jobId}
          onBusyChange={setRestoreRunning}
          onDismiss={() => {
            setRestoring(null);
            setRestoreRunning(false);
          }}
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
