import { describe, expect, it } from 'vitest';

import type { TableChanges } from '../types/backup';
import { describeTableChanges, hasNoChange, rowCount } from './changes';
import { orderedTables } from './tables';

function changes(overrides: Partial<TableChanges>): TableChanges {
  return { archive_rows: 0, live_rows: 0, added: 0, removed: 0, changed: 0, unchanged: 0, ...overrides };
}

describe('what a restore changes, in words', () => {
  it('says live rows missing from the backup are ones added since it, which the restore removes', () => {
    // removed = live rows not in the backup: 12,408 events were written after the backup was made.
    const c = changes({ archive_rows: 1000, live_rows: 13408, removed: 12408, unchanged: 1000 });
    expect(describeTableChanges('events', c)).toBe('12,408 events added since this backup will be removed');
  });

  it('says rows of the backup that are gone now come back (added), and changed rows are set back', () => {
    expect(describeTableChanges('settings', changes({ archive_rows: 5, live_rows: 2, added: 3 }))).toBe(
      '3 settings deleted since this backup will come back',
    );
    expect(describeTableChanges('settings', changes({ archive_rows: 5, live_rows: 5, changed: 3, unchanged: 2 }))).toBe(
      '3 settings changed since this backup will be set back',
    );
  });

  it('joins several kinds of change, removals first, and uses the singular for one row', () => {
    const c = changes({ archive_rows: 6, live_rows: 6, added: 1, removed: 1, changed: 1, unchanged: 4 });
    expect(describeTableChanges('settings', c)).toBe(
      '1 setting added since this backup will be removed; 1 setting deleted since this backup will come back; ' +
        '1 setting changed since this backup will be set back',
    );
    expect(describeTableChanges('public.household_members', changes({ added: 2, archive_rows: 2 }))).toBe(
      '2 household members deleted since this backup will come back',
    );
  });

  it('says "rows" for tables it does not know', () => {
    expect(rowCount('audit.log', 1)).toBe('1 row');
    expect(describeTableChanges('audit.log', changes({ removed: 7, live_rows: 7 }))).toBe(
      '7 rows added since this backup will be removed',
    );
  });

  it('says when a table would not change', () => {
    const same = changes({ archive_rows: 200, live_rows: 200, unchanged: 200 });
    expect(hasNoChange(same)).toBe(true);
    expect(describeTableChanges('events', same)).toBe('No change (200 events, all as in the backup)');
    expect(describeTableChanges('zones', changes({}))).toBe('No change (empty in the backup and now)');
    expect(hasNoChange(changes({ changed: 1 }))).toBe(false);
  });

  it('orders tables as the page does: the default tables in the seed order, then others by name', () => {
    expect(orderedTables(['zz', 'settings', 'events', 'public.alerts', 'aa'])).toEqual([
      'events',
      'public.alerts',
      'settings',
      'aa',
      'zz',
    ]);
  });
});
