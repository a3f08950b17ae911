/**
 * The API client, one module per resource: backups (create, list, status, delete, pin),
 * restores (upload, saved backup, status), schedule, drills and downloads; `client` holds the
 * request plumbing (`apiFetch`, `ApiError`) and `apiKey` the X-API-Key handling. Import from
 * here: these are the names the page has always used.
 */

export type { ApiKeyPrompt, ApiKeyPromptReason } from './apiKey';
export { API_KEY_HEADER, API_KEY_STORAGE_KEY, getApiKey, setApiKey, setApiKeyPrompt } from './apiKey';
export {
  createBackup,
  deleteBackup,
  getBackupDownloadUrl,
  getBackupJob,
  listBackups,
  setBackupPinned,
} from './backups';
export { ApiError, apiFetch } from './client';
export { fetchBackupFile, filenameFromDisposition } from './downloads';
export { getDrill, listDrills, startDrill } from './drills';
export { getRestoreJob, restoreBackup, startRestore } from './restores';
export { getSchedule, updateSchedule } from './schedule';
