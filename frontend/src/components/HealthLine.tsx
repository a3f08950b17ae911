import type { StatusResponse } from '../api/status';
import { useStatus } from '../hooks/useStatus';
import { formatDateTime } from '../utils/format';
import { formatRelative } from '../utils/schedule';

/** "2 h", "3 days": how old the last backup is. */
export function formatAge(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, seconds);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

/** A time of the schedule, in the schedule's time zone: "Tue 02:00 Europe/Berlin". */
export function inZone(iso: string | null | undefined, timezone: string): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  try {
    const text = date.toLocaleString('en-GB', {
      timeZone: timezone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      hour: '2-digit',
      minute: '2-digit',
    });
    return `${text} ${timezone}`;
  } catch {
    return formatDateTime(iso);
  }
}

function Parts({ status }: { status: StatusResponse }) {
  const backup = status.last_backup;
  const drill = status.last_drill;
  return (
    <ul className="health-parts">
      <li data-testid="health-backup">
        {backup ? (
          <>
            Last backup <time dateTime={backup.completed_at ?? ''} title={formatDateTime(backup.completed_at)}>
              {formatAge(backup.age_seconds)} ago
            </time>
          </>
        ) : (
          'No completed backup yet'
        )}
        {status.stale ? (
          <span className="badge badge-failed health-stale"> stale (older than {status.stale_after})</span>
        ) : null}
      </li>
      {status.next_backup_at ? (
        <li data-testid="health-next">Next scheduled: {inZone(status.next_backup_at, status.timezone)}</li>
      ) : null}
      <li data-testid="health-drill">
        {drill ? (
          <>
            Last drill <span className={`badge badge-${drill.status}`}>{drill.status}</span>{' '}
            <time dateTime={drill.completed_at ?? ''}>{formatRelative(drill.completed_at)}</time>
          </>
        ) : (
          'No drill yet'
        )}
      </li>
      {status.notify.last_error ? (
        <li data-testid="health-notify-error" className="health-notify-error">
          Last notification failed: {status.notify.last_error}
        </li>
      ) : null}
    </ul>
  );
}

/** The line at the top of the page: is the service doing its job? */
export function HealthLine() {
  const { data, error } = useStatus();
  if (error) {
    return (
      <section className="health health-unknown" aria-label="Service health" data-testid="health">
        <p>Could not load the status: {error.message}</p>
      </section>
    );
  }
  if (!data) return null;
  const bad = data.stale || !data.last_backup || data.last_drill?.status === 'failed';
  return (
    <section
      className={`health ${bad ? 'health-bad' : 'health-good'}`}
      aria-label="Service health"
      data-testid="health"
      data-state={bad ? 'attention' : 'ok'}
    >
      <span className="health-dot" aria-hidden="true" />
      <Parts status={data} />
    </section>
  );
}
