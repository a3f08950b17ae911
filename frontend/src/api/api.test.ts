import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { detail, json, routes, stubFetch } from '../test/fetchStub';
import { BACKUP_ID, backupJob, RESTORE_ID, restoreJob } from '../test/fixtures';
import {
  API_KEY_STORAGE_KEY,
  ApiError,
  createBackup,
  deleteBackup,
  fetchBackupFile,
  filenameFromDisposition,
  getApiKey,
  getBackupDownloadUrl,
  getBackupJob,
  getRestoreJob,
  listBackups,
  restoreBackup,
  setApiKey,
  setApiKeyPrompt,
  startRestore,
} from '.';

beforeEach(() => {
  sessionStorage.clear();
  setApiKeyPrompt(null);
});

afterEach(() => {
  vi.unstubAllGlobals();
  setApiKeyPrompt(null);
});

function zipFile(name = 'backup.zip'): File {
  return new File([new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3])], name, { type: 'application/zip' });
}

describe('request paths, methods and bodies', () => {
  it('createBackup POSTs /api/backup and returns the start response', async () => {
    const start = { job_id: BACKUP_ID, status: 'pending', message: 'Backup job created.' };
    const calls = stubFetch(routes({ 'POST /api/backup': json(start, 202) }));
    await expect(createBackup()).resolves.toEqual(start);
    expect(calls).toHaveLength(1);
    expect(calls[0].method).toBe('POST');
    expect(calls[0].url).toBe('/api/backup');
  });

  it('listBackups GETs /api/backup', async () => {
    const list = {
      backups: [
        {
          id: BACKUP_ID,
          created_at: '2026-11-26T10:00:00Z',
          file_size_bytes: 1234,
          status: 'completed',
          download_url: `/api/backup/${BACKUP_ID}/download`,
        },
      ],
      total: 1,
    };
    const calls = stubFetch(routes({ 'GET /api/backup': json(list) }));
    await expect(listBackups()).resolves.toEqual(list);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /api/backup']);
  });

  it('getBackupJob GETs /api/backup/{id}', async () => {
    const job = backupJob('running');
    const calls = stubFetch(routes({ [`GET /api/backup/${BACKUP_ID}`]: json(job) }));
    await expect(getBackupJob(BACKUP_ID)).resolves.toEqual(job);
    expect(calls[0].url).toBe(`/api/backup/${BACKUP_ID}`);
    expect(calls[0].method).toBe('GET');
  });

  it('encodes job ids into the path', async () => {
    const calls = stubFetch(() => json(backupJob('running')));
    await getBackupJob('a/b?c');
    expect(calls[0].url).toBe('/api/backup/a%2Fb%3Fc');
  });

  it('getBackupDownloadUrl is /api/backup/{id}/download', () => {
    expect(getBackupDownloadUrl(BACKUP_ID)).toBe(`/api/backup/${BACKUP_ID}/download`);
  });

  it('deleteBackup DELETEs /api/backup/{id} and resolves to nothing', async () => {
    const calls = stubFetch(routes({ [`DELETE /api/backup/${BACKUP_ID}`]: json({ deleted: true }) }));
    await expect(deleteBackup(BACKUP_ID)).resolves.toBeUndefined();
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([`DELETE /api/backup/${BACKUP_ID}`]);
  });

  it('startRestore POSTs the file as multipart field "file" to /api/backup/restore', async () => {
    const start = { job_id: RESTORE_ID, status: 'pending', message: 'Restore job created.' };
    const calls = stubFetch(routes({ 'POST /api/backup/restore': json(start, 202) }));
    const file = zipFile('my-backup.zip');
    await expect(startRestore(file)).resolves.toEqual(start);
    expect(calls).toHaveLength(1);
    expect(calls[0].method).toBe('POST');
    expect(calls[0].url).toBe('/api/backup/restore');
    const body = calls[0].body;
    expect(body).toBeInstanceOf(FormData);
    const sent = (body as FormData).get('file');
    expect(sent).toBeInstanceOf(File);
    expect((sent as File).name).toBe('my-backup.zip');
    expect((sent as File).size).toBe(file.size);
    // The browser must set the multipart boundary itself.
    expect(calls[0].headers.has('Content-Type')).toBe(false);
  });

  it('startRestore sends no option fields unless given', async () => {
    const calls = stubFetch(() => json({ job_id: RESTORE_ID, status: 'pending', message: 'ok' }, 202));
    await startRestore(zipFile());
    expect([...(calls[0].body as FormData).keys()]).toEqual(['file']);
  });

  it('startRestore sends tables (comma-separated), safety_backup and dry_run as form fields', async () => {
    const calls = stubFetch(() => json({ job_id: RESTORE_ID, status: 'pending', message: 'ok' }, 202));
    await startRestore(zipFile('b.zip.age'), { tables: ['events', 'settings'], safety_backup: false, dry_run: true });
    const form = calls[0].body as FormData;
    expect(form.get('tables')).toBe('events,settings');
    expect(form.get('safety_backup')).toBe('false');
    expect(form.get('dry_run')).toBe('true');
    expect((form.get('file') as File).name).toBe('b.zip.age');
  });

  it('restoreBackup POSTs the options as JSON to /api/backup/{id}/restore', async () => {
    const start = { job_id: RESTORE_ID, status: 'pending', message: 'Restore job created.' };
    const calls = stubFetch(routes({ [`POST /api/backup/${BACKUP_ID}/restore`]: json(start, 202) }));
    await expect(restoreBackup(BACKUP_ID, { tables: ['settings'], safety_backup: true })).resolves.toEqual(start);
    expect(calls).toHaveLength(1);
    expect(calls[0].headers.get('Content-Type')).toBe('application/json');
    expect(JSON.parse(String(calls[0].body))).toEqual({ tables: ['settings'], safety_backup: true });
  });

  it('restoreBackup without options sends an empty body (the server defaults: every table, safety backup)', async () => {
    const calls = stubFetch(() => json({ job_id: RESTORE_ID, status: 'pending', message: 'ok' }, 202));
    await restoreBackup('a/b');
    expect(calls[0].url).toBe('/api/backup/a%2Fb/restore');
    expect(JSON.parse(String(calls[0].body))).toEqual({});
  });

  it('restoreBackup surfaces the 400 naming tables not in the archive', async () => {
    stubFetch(() => detail(400, 'Tables not in the archive: a, b'));
    const error = await restoreBackup(BACKUP_ID, { tables: ['a', 'b'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).message).toBe('Tables not in the archive: a, b');
  });

  it('getRestoreJob GETs /api/backup/restore/{id}', async () => {
    const job = restoreJob('validating');
    const calls = stubFetch(routes({ [`GET /api/backup/restore/${RESTORE_ID}`]: json(job) }));
    await expect(getRestoreJob(RESTORE_ID)).resolves.toEqual(job);
    expect(calls[0].url).toBe(`/api/backup/restore/${RESTORE_ID}`);
    expect(calls[0].method).toBe('GET');
  });
});

describe('errors carry the API detail text', () => {
  it('404 on an unknown backup job', async () => {
    stubFetch(() => detail(404, 'Backup job not found: nope'));
    const error = await getBackupJob('nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
    expect((error as ApiError).message).toBe('Backup job not found: nope');
  });

  it('404 on an unknown restore job', async () => {
    stubFetch(() => detail(404, 'Restore job not found: x'));
    await expect(getRestoreJob('x')).rejects.toThrow('Restore job not found: x');
  });

  it('409 when a backup is already running', async () => {
    stubFetch(() => detail(409, 'A backup is already running'));
    await expect(createBackup()).rejects.toMatchObject({ status: 409, message: 'A backup is already running' });
  });

  it('400 when the upload is not a ZIP', async () => {
    stubFetch(() => detail(400, 'Invalid file type. Expected a .zip backup file.'));
    await expect(startRestore(zipFile())).rejects.toThrow('Invalid file type. Expected a .zip backup file.');
  });

  it('413 over the size limit', async () => {
    stubFetch(() => detail(413, 'Upload too large (limit 10 GiB)'));
    await expect(startRestore(zipFile())).rejects.toMatchObject({ status: 413, message: 'Upload too large (limit 10 GiB)' });
  });

  it('400 when the download is not ready', async () => {
    stubFetch(() => detail(400, 'Backup job is not complete (status: running)'));
    await expect(fetchBackupFile(BACKUP_ID)).rejects.toThrow('Backup job is not complete (status: running)');
  });

  it('409 when deleting a running backup', async () => {
    stubFetch(() => detail(409, 'Backup job is still running'));
    await expect(deleteBackup(BACKUP_ID)).rejects.toThrow('Backup job is still running');
  });

  it('joins FastAPI validation errors', async () => {
    stubFetch(() =>
      detail(422, [
        { loc: ['body', 'file'], msg: 'Field required', type: 'missing' },
        { loc: ['query'], msg: 'Bad value', type: 'value_error' },
      ]),
    );
    await expect(startRestore(zipFile())).rejects.toThrow('Field required; Bad value');
  });

  it('falls back to the status line when the body is not JSON', async () => {
    stubFetch(() => new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    await expect(listBackups()).rejects.toMatchObject({ status: 502, message: 'Request failed: 502 Bad Gateway' });
  });

  it('uses short plain-text bodies', async () => {
    stubFetch(() => new Response('Internal Server Error', { status: 500 }));
    await expect(listBackups()).rejects.toThrow('Internal Server Error');
  });

  it('reports a server that cannot be reached', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('Failed to fetch');
      }),
    );
    await expect(listBackups()).rejects.toThrow('Could not reach the backupd server (Failed to fetch)');
  });
});

describe('API key', () => {
  it('sends no X-API-Key header when no key is stored', async () => {
    const calls = stubFetch(() => json({ backups: [], total: 0 }));
    await listBackups();
    expect(calls[0].headers.has('X-API-Key')).toBe(false);
  });

  it('sends the stored key as X-API-Key on every endpoint', async () => {
    setApiKey('s3cret');
    expect(sessionStorage.getItem(API_KEY_STORAGE_KEY)).toBe('s3cret');
    const calls = stubFetch((call) => {
      if (call.method === 'POST' && call.url === '/api/backup/restore') return json({ job_id: RESTORE_ID }, 202);
      if (call.method === 'POST') return json({ job_id: BACKUP_ID }, 202);
      if (call.method === 'DELETE') return json({ deleted: true });
      if (call.url.startsWith('/api/backup/restore/')) return json(restoreJob('restoring'));
      if (call.url.endsWith('/download')) return new Response(new Uint8Array([0x50, 0x4b]), { status: 200 });
      if (call.url === '/api/backup') return json({ backups: [], total: 0 });
      return json(backupJob('running'));
    });
    await createBackup();
    await listBackups();
    await getBackupJob(BACKUP_ID);
    await deleteBackup(BACKUP_ID);
    await startRestore(zipFile());
    await getRestoreJob(RESTORE_ID);
    await fetchBackupFile(BACKUP_ID);
    await restoreBackup(BACKUP_ID, { dry_run: true });
    expect(calls).toHaveLength(8);
    // The JSON body keeps its Content-Type beside the key.
    expect(calls[7].headers.get('Content-Type')).toBe('application/json');
    for (const call of calls) expect(call.headers.get('X-API-Key')).toBe('s3cret');
  });

  it('on 401 asks for the key once, stores it in sessionStorage and retries', async () => {
    const calls = stubFetch((call) =>
      call.headers.get('X-API-Key') === 'right' ? json({ backups: [], total: 0 }) : detail(401, 'Invalid or missing API key'),
    );
    const prompt = vi.fn(async () => 'right');
    setApiKeyPrompt(prompt);
    await expect(listBackups()).resolves.toEqual({ backups: [], total: 0 });
    expect(prompt).toHaveBeenCalledTimes(1);
    expect(prompt).toHaveBeenCalledWith('required');
    expect(getApiKey()).toBe('right');
    expect(sessionStorage.getItem(API_KEY_STORAGE_KEY)).toBe('right');
    expect(calls.map((c) => c.headers.get('X-API-Key'))).toEqual([null, 'right']);
  });

  it('concurrent 401s share one prompt', async () => {
    stubFetch((call) =>
      call.headers.get('X-API-Key') === 'right' ? json({ backups: [], total: 0 }) : detail(401, 'Invalid or missing API key'),
    );
    let answer: (key: string | null) => void = () => undefined;
    const prompt = vi.fn(() => new Promise<string | null>((resolve) => (answer = resolve)));
    setApiKeyPrompt(prompt);
    const all = Promise.all([listBackups(), listBackups(), listBackups()]);
    await vi.waitFor(() => expect(prompt).toHaveBeenCalledTimes(1));
    answer('right');
    await expect(all).resolves.toHaveLength(3);
    expect(prompt).toHaveBeenCalledTimes(1);
  });

  it('asks again, saying the key was rejected, when the typed key is wrong', async () => {
    stubFetch((call) =>
      call.headers.get('X-API-Key') === 'right' ? json({ backups: [], total: 0 }) : detail(401, 'Invalid or missing API key'),
    );
    const answers = ['wrong', 'right'];
    const prompt = vi.fn(async () => answers.shift() ?? null);
    setApiKeyPrompt(prompt);
    await listBackups();
    expect(prompt.mock.calls).toEqual([['required'], ['rejected']]);
    expect(getApiKey()).toBe('right');
  });

  it('re-sends an upload after the key is given', async () => {
    const calls = stubFetch((call) =>
      call.headers.get('X-API-Key') === 'k' ? json({ job_id: RESTORE_ID, status: 'pending', message: 'ok' }, 202) : detail(401, 'Invalid or missing API key'),
    );
    setApiKeyPrompt(async () => 'k');
    await expect(startRestore(zipFile('x.zip'))).resolves.toMatchObject({ job_id: RESTORE_ID });
    expect(calls).toHaveLength(2);
    expect(((calls[1].body as FormData).get('file') as File).name).toBe('x.zip');
  });

  it('fails with the API message when the user cancels the prompt', async () => {
    const calls = stubFetch(() => detail(401, 'Invalid or missing API key'));
    setApiKeyPrompt(async () => null);
    await expect(listBackups()).rejects.toMatchObject({ status: 401, message: 'Invalid or missing API key' });
    expect(calls).toHaveLength(1);
    expect(getApiKey()).toBeNull();
  });

  it('forgets a stored key that the server refuses when the user gives no new one', async () => {
    setApiKey('old');
    stubFetch(() => detail(401, 'Invalid or missing API key'));
    const prompt = vi.fn(async () => null);
    setApiKeyPrompt(prompt);
    await expect(listBackups()).rejects.toThrow('Invalid or missing API key');
    expect(prompt).toHaveBeenCalledWith('rejected');
    expect(getApiKey()).toBeNull();
  });

  it('without a prompt registered, a 401 is an error', async () => {
    stubFetch(() => detail(401, 'Invalid or missing API key'));
    await expect(listBackups()).rejects.toMatchObject({ status: 401 });
  });
});

describe('download with a key', () => {
  it('fetches the archive with the header and takes the file name from Content-Disposition', async () => {
    setApiKey('k');
    const calls = stubFetch(
      () =>
        new Response(new Uint8Array([0x50, 0x4b, 5, 6]), {
          status: 200,
          headers: {
            'Content-Type': 'application/zip',
            'Content-Disposition': 'attachment; filename="backup-2026-11-26.zip"',
          },
        }),
    );
    const { blob, filename } = await fetchBackupFile(BACKUP_ID);
    expect(calls[0].url).toBe(`/api/backup/${BACKUP_ID}/download`);
    expect(calls[0].headers.get('X-API-Key')).toBe('k');
    expect(filename).toBe('backup-2026-11-26.zip');
    expect(blob.size).toBe(4);
  });

  it('parses the forms of Content-Disposition', () => {
    expect(filenameFromDisposition('attachment; filename="a b.zip"')).toBe('a b.zip');
    expect(filenameFromDisposition('attachment; filename=plain.zip')).toBe('plain.zip');
    expect(filenameFromDisposition("attachment; filename*=UTF-8''caf%C3%A9.zip")).toBe('café.zip');
    expect(filenameFromDisposition('attachment')).toBeNull();
    expect(filenameFromDisposition(null)).toBeNull();
  });
});
