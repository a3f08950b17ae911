import { useEffect, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';

import { useSchedule, useUpdateSchedule } from '../hooks/useAutomation';
import { BACKUP_QUERY_KEYS } from '../hooks/useBackup';
import type { RetentionPolicy, ScheduleResponse } from '../types/backup';
import { formatDateTime } from '../utils/format';
import { describeSchedule, formatRelative } from '../utils/schedule';

const KEEPS: { key: keyof RetentionPolicy; label: string; hint: string }[] = [
  { key: 'keep_last', label: 'Newest', hint: 'backups' },
  { key: 'keep_daily', label: 'Daily', hint: 'days' },
  { key: 'keep_weekly', label: 'Weekly', hint: 'weeks' },
  { key: 'keep_monthly', label: 'Monthly', hint: 'months' },
];

const RESULT_TEXT = { pending: 'waiting', running: 'running', completed: 'completed', failed: 'failed' } as const;

interface FormState {
  schedule: string;
  timezone: string;
  keeps: Record<keyof RetentionPolicy, string>;
}

function formFrom(data: ScheduleResponse): FormState {
  return {
    schedule: data.schedule,
    timezone: data.timezone,
    keeps: {
      keep_last: String(data.retention.keep_last),
      keep_daily: String(data.retention.keep_daily),
      keep_weekly: String(data.retention.keep_weekly),
      keep_monthly: String(data.retention.keep_monthly),
    },
  };
}

/** Zones the browser knows, for the time zone field's suggestions. */
function knownZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf ? ['UTC', ...intl.supportedValuesOf('timeZone')] : ['UTC'];
  } catch {
    return ['UTC'];
  }
}

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
  const save = useUpdateSchedule();
  const queryClient = useQueryClient();
  const [form, setForm] = useState<FormState | null>(null);
  const [saved, setSaved] = useState(false);
  const data = schedule.data;

  // A new scheduled backup appears in the list without a reload.
  const lastId = data?.last_scheduled_backup?.id;
  const lastStatus = data?.last_scheduled_backup?.status;
  const seen = useRef<string | undefined>(undefined);
  useEffect(() => {
    const key = lastId ? `${lastId}:${lastStatus}` : undefined;
    if (seen.current !== undefined && key !== seen.current) {
      void queryClient.invalidateQueries({ queryKey: BACKUP_QUERY_KEYS.list });
    }
    seen.current = key;
  }, [lastId, lastStatus, queryClient]);

  const editing = form ?? (data ? formFrom(data) : null);

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!editing) return;
    setSaved(false);
    const retention: Partial<RetentionPolicy> = {};
    for (const { key } of KEEPS) {
      const text = editing.keeps[key].trim();
      // Anything that is not a plain number goes to the API as is, which says what is wrong with it.
      retention[key] = (/^-?\d+$/.test(text) ? Number(text) : text) as number;
    }
    save.mutate(
      { schedule: editing.schedule, timezone: editing.timezone, retention },
      {
        onSuccess: (response) => {
          setForm(formFrom(response));
          setSaved(true);
        },
      },
    );
  }

  const last = data?.last_scheduled_backup;
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
                    <span className={`badge badge-${last.status}`}>{RESULT_TEXT[last.status] ?? last.status}</span>{' '}
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

      {editing ? (
        <form className="schedule-form" onSubmit={submit} aria-label="Change the schedule and retention" noValidate>
          <div className="field field-wide">
            <label htmlFor="schedule-cron">Schedule</label>
            <input
              id="schedule-cron"
              className="input mono"
              value={editing.schedule}
              aria-describedby="schedule-cron-hint"
              spellCheck={false}
              autoComplete="off"
              onChange={(e) => setForm({ ...editing, schedule: e.target.value })}
            />
            <span id="schedule-cron-hint" className="hint">
              Cron: minute hour day month weekday, e.g. <code>0 2 * * *</code> for 02:00 every day, or{' '}
              <code>off</code>.
            </span>
          </div>
          <div className="field field-wide">
            <label htmlFor="schedule-zone">Time zone</label>
            <input
              id="schedule-zone"
              className="input"
              list="schedule-zones"
              value={editing.timezone}
              spellCheck={false}
              autoComplete="off"
              onChange={(e) => setForm({ ...editing, timezone: e.target.value })}
            />
            <datalist id="schedule-zones">
              {knownZones().map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
          </div>
          <fieldset className="keeps">
            <legend>Keep</legend>
            {KEEPS.map(({ key, label, hint }) => (
              <div className="field" key={key}>
                <label htmlFor={`keep-${key}`}>{label}</label>
                <input
                  id={`keep-${key}`}
                  className="input input-number"
                  inputMode="numeric"
                  value={editing.keeps[key]}
                  aria-describedby={`keep-${key}-unit`}
                  onChange={(e) => setForm({ ...editing, keeps: { ...editing.keeps, [key]: e.target.value } })}
                />
                <span id={`keep-${key}-unit`} className="hint">
                  {hint}
                </span>
              </div>
            ))}
          </fieldset>
          <div className="actions">
            <button type="submit" className="button button-primary" disabled={save.isPending}>
              {save.isPending ? 'Saving…' : 'Save schedule'}
            </button>
            {form && data && !save.isPending ? (
              <button
                type="button"
                className="button"
                onClick={() => {
                  setForm(null);
                  save.reset();
                  setSaved(false);
                }}
              >
                Reset
              </button>
            ) : null}
          </div>
          {save.error ? (
            <p className="message message-error" role="alert" data-testid="schedule-error">
              Not saved: {save.error.message}
            </p>
          ) : null}
          {saved && !save.error ? (
            <p className="message message-success" role="status">
              Saved. The new schedule is in force on every server; the retention policy applies after the next backup.
            </p>
          ) : null}
        </form>
      ) : null}
    </section>
  );
}
