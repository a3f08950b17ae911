import { describe, expect, it } from 'vitest';

import { DEFAULT_TABLES, DEFAULT_TABLES_IN_WORDS, orderedCounts, rowNouns, tableLabel } from './tables';

describe('the default tables', () => {
  it('are the seed set in its order, and read as one phrase', () => {
    expect(DEFAULT_TABLES).toEqual([
      'events',
      'alerts',
      'cameras',
      'zones',
      'prompts',
      'baselines',
      'household_members',
      'settings',
    ]);
    expect(DEFAULT_TABLES_IN_WORDS).toBe(
      'events, alerts, cameras, zones, prompts, baselines, household members and settings',
    );
  });

  it('name their rows; other tables have rows', () => {
    expect(rowNouns('public.household_members')).toEqual(['household member', 'household members']);
    expect(rowNouns('audit.log')).toEqual(['row', 'rows']);
    expect(rowNouns('toString')).toEqual(['row', 'rows']);
    expect(tableLabel('app.camera_zones')).toBe('Camera zones');
  });

  it('order counts as the page shows them: the default tables first, then others by name', () => {
    expect(orderedCounts({ zz: 1, settings: 5, 'public.events': 200, aa: 2 })).toEqual([
      ['public.events', 200],
      ['settings', 5],
      ['aa', 2],
      ['zz', 1],
    ]);
  });
});
