/**
 * The tables: the default set (the seed's, in its order) and how the page names a table and its
 * rows. This is the one list of the default tables in the page.
 */

import { joinWithAnd } from './format';

/** The default tables in the seed's order, each with what one of its rows is called. */
const ROW_NOUN = {
  events: 'event',
  alerts: 'alert',
  cameras: 'camera',
  zones: 'zone',
  prompts: 'prompt',
  baselines: 'baseline',
  household_members: 'household member',
  settings: 'setting',
} as const;

export type DefaultTable = keyof typeof ROW_NOUN;

/** The default table set, in the seed's order. */
export const DEFAULT_TABLES = Object.keys(ROW_NOUN) as readonly DefaultTable[];

function isDefaultTable(name: string): name is DefaultTable {
  return (DEFAULT_TABLES as readonly string[]).includes(name);
}

/** "app.camera_zones" -> "camera_zones" */
export function bareName(table: string): string {
  return table.includes('.') ? table.slice(table.lastIndexOf('.') + 1) : table;
}

/** "household_members" -> "Household members"; "public.events" -> "Events". */
export function tableLabel(table: string): string {
  const words = bareName(table).replace(/_/g, ' ').trim();
  return words ? words[0].toUpperCase() + words.slice(1) : table;
}

/** "household members" (lower case, for the middle of a sentence). */
export function tableWords(table: string): string {
  return tableLabel(table).toLowerCase();
}

/** What one row and several rows are called: ["household member", "household members"]; "row(s)" for other tables. */
export function rowNouns(table: string): readonly [string, string] {
  const name = bareName(table);
  return isDefaultTable(name) ? [ROW_NOUN[name], tableWords(name)] : ['row', 'rows'];
}

/** The tables a default backup saves and a default restore replaces: "events, …, household members and settings". */
export const DEFAULT_TABLES_IN_WORDS = joinWithAnd(DEFAULT_TABLES.map(tableWords));

/** Sort rank: a default table by its place in the seed's order, any other after them. */
function rank(table: string): number {
  const name = bareName(table);
  return isDefaultTable(name) ? DEFAULT_TABLES.indexOf(name) : DEFAULT_TABLES.length;
}

function byRank(a: string, b: string): number {
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** Table names: the default tables in the seed's order, then any others by name. */
export function orderedTables(tables: Iterable<string>): string[] {
  return [...tables].sort(byRank);
}

/** [table, count] pairs in the same order. */
export function orderedCounts(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts).sort(([a], [b]) => byRank(a, b));
}
