import { useCan } from '../hooks/useWhoAmI';
import type { BackupListItem } from '../types/backup';
import { formatBytes, formatDateTime } from '../utils/format';
import { DownloadLink } from './DownloadLink';
import { EncryptedBadge } from './EncryptedBadge';

const TRIGGER_TEXT = { manual: 'manual', schedule: 'scheduled', safety: 'safety' } as const;

export interface BackupItemProps {
  backup: BackupListItem;
  /** "Restore…" is disabled (another restore, or its undo, runs). */
  restoreDisabled: boolean;
  /** Its pin is being changed. */
  pinning: boolean;
  onPin: (pinned: boolean) => void;
  onRestore: () => void;
  onDelete: () => void;
}

/** One backup in the list: when, size, id, trigger/pinned/encrypted badges, and its actions. */
export function BackupItem({ backup, restoreDisabled, pinning, onPin, onRestore, onDelete }: BackupItemProps) {
  const created = formatDateTime(backup.created_at);
  const trigger = backup.trigger ?? 'manual';
  const completed = backup.status === 'completed';
  const admin = useCan('restore'); // pin, restore, download and delete are the admin's (docs/rest-api.md#roles)
  return (
    <li className="backup-item" data-backup-id={backup.id}>
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
        {backup.reuse && backup.reuse.parts_reused > 0 ? (
          <span
            className="backup-reuse"
            data-testid="reuse"
            title="Parts proved unchanged were copied from the previous backup; the rest was read"
          >
            reused {backup.reuse.parts_reused} of {backup.reuse.parts_reused + backup.reuse.parts_read} parts (
            {backup.reuse.rows_read.toLocaleString()} rows read)
          </span>
        ) : null}
      </div>
      <div className="backup-actions">
        {admin ? (
        <button
          type="button"
          className="button button-pin"
          aria-pressed={!!backup.pinned}
          aria-label={`${backup.pinned ? 'Unpin' : 'Pin'} the backup from ${created}`}
          disabled={pinning}
          onClick={() => onPin(!backup.pinned)}
        >
          {backup.pinned ? 'Unpin' : 'Pin'}
        </button>
        ) : null}
        {completed && admin ? (
          <button
            type="button"
            className="button"
            aria-label={`Restore the backup from ${created}…`}
            disabled={restoreDisabled}
            onClick={onRestore}
          >
            Restore…
          </button>
        ) : null}
        {completed && admin ? (
          <DownloadLink jobId={backup.id} href={backup.download_url} ariaLabel={`Download the backup from ${created}`}>
            Download
          </DownloadLink>
        ) : completed ? null : (
          <span className={`badge badge-${backup.status}`}>{backup.status}</span>
        )}
        {admin ? (
        <button
          type="button"
          className="button button-danger-outline"
          aria-label={`Delete the backup from ${created}`}
          onClick={onDelete}
        >
          Delete
        </button>
        ) : null}
      </div>
    </li>
  );
}

