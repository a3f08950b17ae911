import { useSchedule } from '../hooks/useAutomation';
import { useRefreshBackupList } from '../hooks/useJob';
import { useCan } from '../hooks/useWhoAmI';
import type { RetentionPolicy } from '../types/backup';
import { formatDateTime } from '../utils/format';
import { statusWord } from '../utils/jobStatus';
import { describeSchedule, formatRelative } from '../utils/schedule';
import { ScheduleForm } from './ScheduleForm';

function retentionInWords(r: RetentionPolicy): string {
  if (!r.keep_last && !r.keep_daily && !r.keep_weekly && !r.keep_monthly) return 'Keeps every backup.';
  const parts = [
    r.keep_last ? `the newest ${r.keep_last}` : '',
    r.keep_daily ? `one a day for ${r.keep_daily} days` : '',
    r.keep_weekly ? `one a week for ${r.keep_weekly} weeks` : '',
    r.keep_monthly ? `one a month for ${r.keep_monthly} months` : '',
  ].filter(Boolean);
  return `Keeps ${parts.join(', ')}; pinned backups are always kept.`;
}

export function AutomaticBackupsPanel() {
  const schedule = useSchedule();
  const data = schedule.data;
  const canEdit = useCan('editSchedule');

  // A new scheduled backup, or its new status, appears in the list without a reload.
  const last = data?.last_scheduled_backup;
  useRefreshBackupList(data ? `${last?.id ?? 'none'}:${last?.status ?? ''}` : undefined, { sinceFirst: true });

  return (
    <section className="card" aria-labelledby="auto-heading" data-testid="automatic-backups">
      <h2 id="auto-heading">Automatic backups</h2>
      {schedule.isPending ? <p className="hint">Loading the schedule…</p> : null}
      {schedule.error ? (
        <p className="message message-error">
          Could not load the schedule: {schedule.error.message}
        </p>
      ) : null}
      {data ? (
        <>
          <p className="schedule-words" data-testid="schedule-words">
            {describeSchedule(data.schedule, data.timezone)}
          </p>
          <dl className="facts">
            <div>
              <dt>Next backup</dt>
              <dd data-testid="next-run">
                {data.next_run_at ? (
                  <>
                    <time dateTime={data.next_run_at}>{formatDateTime(data.next_run_at)}</time> (
                    {formatRelative(data.next_run_at)})
                  </>
                ) : (
                  'none scheduled'
                )}
              </dd>
            </div>
            <div>
              <dt>Last scheduled backup</dt>
              <dd data-testid="last-scheduled">
                {last ? (
                  <>
                    <span className={`badge badge-${last.status}`}>{statusWord('backup', last.status)}</span>{' '}
                    <time dateTime={last.created_at}>{formatRelative(last.created_at)}</time>
                  </>
                ) : (
                  'none yet'
                )}
              </dd>
            </div>
            <div>
              <dt>Retention</dt>
              <dd>{retentionInWords(data.retention)}</dd>
            </div>
          </dl>
        </>
      ) : null}

      {data && canEdit ? <ScheduleForm current={data} /> : null}
    </section>
  );
}
