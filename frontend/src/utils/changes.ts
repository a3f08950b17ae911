/**
 * What a restore changes, in plain words (docs/restore-guarantees.md's `changes`).
 *
 * The direction matters: `removed` counts live rows the backup does not have — rows added since
 * the backup, which the restore deletes; `added` counts rows of the backup that are no longer
 * live — rows deleted since the backup, which the restore brings back.
 */

import type { TableChanges } from '../types/backup';
import { rowNouns } from './tables';

export function formatCount(n: number): string {
  return n.toLocaleString('en');
}

/** "1 setting", "12,408 events", "3 rows" (for a table the page does not know). */
export function rowCount(table: string, n: number): string {
  const [one, many] = rowNouns(table);
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** True when restoring the table would change nothing in it. */
export function hasNoChange(c: TableChanges): boolean {
  return c.added === 0 && c.removed === 0 && c.changed === 0;
}

/**
 * One table's changes as a sentence, e.g. "12,408 events added since this backup will be removed;
 * 25 events deleted since this backup will come back; 3 events changed since this backup will be
 * set back". Without changes: "No change (200 events, all as in the backup)".
 */
export function describeTableChanges(table: string, c: TableChanges): string {
  const parts: string[] = [];
  if (c.removed > 0) parts.push(`${rowCount(table, c.removed)} added since this backup will be removed`);
  if (c.added > 0) parts.push(`${rowCount(table, c.added)} deleted since this backup will come back`);
  if (c.changed > 0) parts.push(`${rowCount(table, c.changed)} changed since this backup will be set back`);
  if (parts.length === 0) {
    if (c.archive_rows === 0) return 'No change (empty in the backup and now)';
    return `No change (${rowCount(table, c.archive_rows)}, all as in the backup)`;
  }
  return parts.join('; ');
}
