/**
 * Restore drills:
 *
 *   POST /api/backup/:id/drill  start a drill of a saved backup
 *   GET  /api/drills            the drill history, newest first
 *   GET  /api/drills/:id        one drill
 */

import type { DrillListResponse, DrillResult, DrillStartResponse } from '../types/backup';
import { backupPath, expectShape, requestJson } from './client';

const DRILLS_PATH = '/api/drills';

export async function startDrill(backupId: string): Promise<DrillStartResponse> {
  return requestJson<DrillStartResponse>(backupPath(backupId, '/drill'), { method: 'POST' });
}

export async function listDrills(): Promise<DrillListResponse> {
  const data = await requestJson<DrillListResponse>(DRILLS_PATH, { method: 'GET' });
  return expectShape(data, (d) => Array.isArray(d.drills), DRILLS_PATH);
}

/** One drill. The page reads the history (listDrills); this is the rest of the resource. */
export async function getDrill(drillId: string): Promise<DrillResult> {
  return requestJson<DrillResult>(`${DRILLS_PATH}/${encodeURIComponent(drillId)}`, { method: 'GET' });
}
