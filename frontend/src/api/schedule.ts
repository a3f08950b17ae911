/**
 * Automatic backups and retention:
 *
 *   GET /api/schedule  the schedule, its next run, the last scheduled backup, the retention
 *   PUT /api/schedule  change any subset of schedule, timezone and retention
 */

import type { ScheduleResponse, ScheduleUpdate } from '../types/backup';
import { expectShape, JSON_HEADERS, requestJson } from './client';

const SCHEDULE_PATH = '/api/schedule';

const isSchedule = (d: ScheduleResponse) => typeof d.schedule === 'string' && !!d.retention;

export async function getSchedule(): Promise<ScheduleResponse> {
  const data = await requestJson<ScheduleResponse>(SCHEDULE_PATH, { method: 'GET' });
  return expectShape(data, isSchedule, SCHEDULE_PATH);
}

export async function updateSchedule(update: ScheduleUpdate): Promise<ScheduleResponse> {
  const data = await requestJson<ScheduleResponse>(SCHEDULE_PATH, {
    method: 'PUT',
    headers: JSON_HEADERS,
    body: JSON.stringify(update),
  });
  return expectShape(data, isSchedule, SCHEDULE_PATH);
}
