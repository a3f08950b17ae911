/** Schedules and times in words, for the "Automatic backups" panel. */

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const DAY_NAMES: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

const isNumber = (field: string) => /^\d+$/.test(field);
const pad = (n: number) => String(n).padStart(2, '0');

function dayNumber(text: string): number | null {
  const lower = text.toLowerCase();
  if (lower in DAY_NAMES) return DAY_NAMES[lower];
  if (!isNumber(text)) return null;
  const n = Number(text);
  return n >= 0 && n <= 7 ? n % 7 : null;
}

/** "1-5" -> "Monday to Friday"; "1,3" -> "Monday and Wednesday"; null when not simple. */
function daysInWords(field: string): string | null {
  const range = /^(\w+)-(\w+)$/.exec(field);
  if (range) {
    const [a, b] = [dayNumber(range[1]), dayNumber(range[2])];
    return a === null || b === null ? null : `${DAYS[a]} to ${DAYS[b]}`;
  }
  const days = field.split(',').map(dayNumber);
  if (days.some((d) => d === null)) return null;
  const names = days.map((d) => DAYS[d as number]);
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${suffix}`;
}

const ALIASES: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

/** The cron part in words, without the time zone; null when the expression is not a simple one. */
export function cronInWords(expression: string): string | null {
  const text = ALIASES[expression.trim().toLowerCase()] ?? expression.trim();
  const fields = text.split(/\s+/);
  if (fields.length !== 5) return null;
  const [minute, hour, dom, month, dow] = fields;
  const everyDay = dom === '*' && month === '*';
  if (minute === '*' && hour === '*' && everyDay && dow === '*') return 'Every minute';
  const step = /^\*\/(\d+)$/.exec(minute);
  if (step && hour === '*' && everyDay && dow === '*') return `Every ${step[1]} minutes`;
  if (!isNumber(minute)) return null;
  if (hour === '*' && everyDay && dow === '*') {
    return Number(minute) === 0 ? 'Every hour, on the hour' : `Every hour at ${Number(minute)} minutes past`;
  }
  const hourStep = /^\*\/(\d+)$/.exec(hour);
  if (hourStep && everyDay && dow === '*') return `Every ${hourStep[1]} hours at :${pad(Number(minute))}`;
  if (!isNumber(hour)) return null;
  const at = `at ${pad(Number(hour))}:${pad(Number(minute))}`;
  if (everyDay && dow === '*') return `Every day ${at}`;
  if (everyDay) {
    const days = daysInWords(dow);
    return days ? `Every ${days} ${at}` : null;
  }
  if (isNumber(dom) && month === '*' && dow === '*') return `On the ${ordinal(Number(dom))} of every month ${at}`;
  return null;
}

/** "Every day at 02:00 (Europe/Berlin)"; "Off"; a cron expression it cannot word is quoted as is. */
export function describeSchedule(expression: string, timezone: string): string {
  if (expression.trim().toLowerCase() === 'off') return 'Off: no automatic backups';
  const words = cronInWords(expression);
  return `${words ?? `On the schedule “${expression}”`} (${timezone})`;
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** "2 hours ago", "in 5 minutes", "just now". */
export function formatRelative(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return '—';
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return iso;
  const seconds = (then.getTime() - now.getTime()) / 1000;
  if (Math.abs(seconds) < 45) return 'just now';
  const format = new Intl.RelativeTimeFormat('en', { numeric: 'always' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size * 0.95 || unit === 'minute') {
      return format.format(Math.round(seconds / size), unit);
    }
  }
  return format.format(Math.round(seconds / 60), 'minute');
}
