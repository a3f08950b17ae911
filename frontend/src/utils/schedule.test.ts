import { describe, expect, it } from 'vitest';

import { cronInWords, describeSchedule, formatRelative } from './schedule';

describe('describeSchedule', () => {
  it.each([
    ['0 2 * * *', 'Europe/Berlin', 'Every day at 02:00 (Europe/Berlin)'],
    ['30 14 * * *', 'UTC', 'Every day at 14:30 (UTC)'],
    ['@daily', 'UTC', 'Every day at 00:00 (UTC)'],
    ['15 3 * * 1', 'UTC', 'Every Monday at 03:15 (UTC)'],
    ['0 4 * * 1-5', 'UTC', 'Every Monday to Friday at 04:00 (UTC)'],
    ['0 4 * * sat,sun', 'UTC', 'Every Saturday and Sunday at 04:00 (UTC)'],
    ['0 4 * * 7', 'UTC', 'Every Sunday at 04:00 (UTC)'],
    ['0 0 1 * *', 'UTC', 'On the 1st of every month at 00:00 (UTC)'],
    ['0 6 22 * *', 'UTC', 'On the 22nd of every month at 06:00 (UTC)'],
    ['0 * * * *', 'UTC', 'Every hour, on the hour (UTC)'],
    ['15 * * * *', 'UTC', 'Every hour at 15 minutes past (UTC)'],
    ['0 */6 * * *', 'UTC', 'Every 6 hours at :00 (UTC)'],
    ['*/10 * * * *', 'UTC', 'Every 10 minutes (UTC)'],
    ['* * * * *', 'UTC', 'Every minute (UTC)'],
    ['0 2 1 1 *', 'UTC', 'On the schedule “0 2 1 1 *” (UTC)'],
    ['off', 'UTC', 'Off: no automatic backups'],
  ])('%s in %s', (expression, zone, words) => {
    expect(describeSchedule(expression, zone)).toBe(words);
  });

  it('does not word what it cannot read', () => {
    expect(cronInWords('0 2 * *')).toBeNull();
    expect(cronInWords('0 2 * * funday')).toBeNull();
  });
});

describe('formatRelative', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  it.each([
    ['2026-03-01T10:00:00Z', '2 hours ago'],
    ['2026-03-01T11:59:40Z', 'just now'],
    ['2026-03-01T11:55:00Z', '5 minutes ago'],
    ['2026-03-02T02:00:00Z', 'in 14 hours'],
    ['2026-02-27T12:00:00Z', '2 days ago'],
    ['2026-03-15T12:00:00Z', 'in 2 weeks'],
  ])('%s', (iso, text) => {
    expect(formatRelative(iso, now)).toBe(text);
  });
  it('handles missing and bad values', () => {
    expect(formatRelative(null, now)).toBe('—');
    expect(formatRelative('nonsense', now)).toBe('nonsense');
  });
});
