import type { FormEvent } from 'react';
import { useState } from 'react';

import { useUpdateSchedule } from '../hooks/useAutomation';
import type { RetentionPolicy, ScheduleResponse } from '../types/backup';

const KEEPS: { key: keyof RetentionPolicy; label: string; hint: string }[] = [
  { key: 'keep_last', label: 'Newest', hint: 'backups' },
  { key: 'keep_daily', label: 'Daily', hint: 'days' },
  { key: 'keep_weekly', label: 'Weekly', hint: 'weeks' },
  { key: 'keep_monthly', label: 'Monthly', hint: 'months' },
];

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

export interface ScheduleFormProps {
  /** The schedule as the server has it: the form starts from it and goes back to it on Reset. */
  current: ScheduleResponse;
}

/** Changes the schedule, its time zone and the retention (PUT /api/schedule). */
export function ScheduleForm({ current }: ScheduleFormProps) {
  const save = useUpdateSchedule();
  const [form, setForm] = useState<FormState | null>(null);
  const [saved, setSaved] = useState(false);
  const editing = form ?? formFrom(current);

  function submit(event: FormEvent) {
    event.preventDefault();
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

  return (
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
        {form && !save.isPending ? (
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
  );
}
