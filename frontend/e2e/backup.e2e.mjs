#!/usr/bin/env node
/**
 * End-to-end test of the backup page: a real `backupd serve` on a fresh PostgreSQL database,
 * driven in headless Chromium (Debian's /usr/bin/chromium through playwright-core).
 *
 *   1. create a database on $BACKUPD_TEST_DATABASE_URL's server, `backupd migrate`, `backupd demo-data`
 *   2. start `backupd serve` on a free port (no API key)
 *   3. create a backup from the page (keyboard), watch it complete, download the archive
 *   4. change the data with SQL (delete every setting and some events, add a stray setting)
 *   5. restore the downloaded archive through the page's confirmation dialog, watch it complete
 *   6. check with SQL that every table holds the archive's rows again (counts = manifest =
 *      items_restored, and row-for-row the data as it was at backup time)
 *   7. drop a file that is not a ZIP: the API's message is shown and nothing changes
 *   8. automatic backups: the schedule in words, an invalid schedule refused with the API's reason,
 *      a valid one saved; the backup pinned from the list; a restore drill into a staging database
 *  8c. change the data again (SQL), "Restore…" the saved backup: the dry-run preview's numbers in words,
 *      one table unticked, the safety backup on; check with SQL that the ticked tables are back and the
 *      unticked one is not; "Undo this restore": check with SQL that the data is as just before it
 *   9. restart with BACKUPD_API_KEY: the page asks for the key once, downloads with it, deletes
 *  10. a phone-sized screen (new archives now age-encrypted): the backup shows a lock and "encrypted",
 *      no horizontal scrolling
 *  11. restart with BACKUPD_API_KEYS (a viewer, an operator and an admin key, the admin's given as its
 *      SHA-256): the page with each key shows only what the role may do (docs/rest-api.md#roles);
 *      the operator backs up from the page, the admin's audit panel lists it and the viewer's refused try
 *
 * A screenshot of each step goes to frontend/e2e/screenshots/. The server is stopped and the
 * database dropped at the end, also on failure.
 *
 * Environment: BACKUPD_TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
 * BACKUPD_E2E_CHROMIUM (default /usr/bin/chromium), BACKUPD_VENV_BIN (default <repo>/.venv/bin),
 * BACKUPD_E2E_EVENTS (default 200), BACKUPD_E2E_KEEP=1 keeps the temp dir for inspection.
 */

import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FRONTEND = path.resolve(HERE, '..');
const ROOT = path.resolve(FRONTEND, '..');
const VENV_BIN = process.env.BACKUPD_VENV_BIN || path.join(ROOT, '.venv', 'bin');
const BACKUPD = path.join(VENV_BIN, 'backupd');
const PYTHON = path.join(VENV_BIN, 'python');
const ADMIN_URL = process.env.BACKUPD_TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
const CHROMIUM = process.env.BACKUPD_E2E_CHROMIUM || '/usr/bin/chromium';
const EVENTS = Number(process.env.BACKUPD_E2E_EVENTS || 200);
const SHOTS = path.join(HERE, 'screenshots');
const NOTIFY_SECRET = 'E2eNotifyPassword';
const TABLES = ['events', 'alerts', 'cameras', 'zones', 'prompts', 'baselines', 'household_members', 'settings'];
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WAIT_MS = 90_000;

// ---------------------------------------------------------------------------------------------
// small helpers
// ---------------------------------------------------------------------------------------------

const started = Date.now();
function log(message) {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`[e2e ${t}s] ${message}`);
}

class CheckFailed extends Error {}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

function checkEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new CheckFailed(`${what}: expected ${e}, got ${a}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function sha256(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Runs SQL through the project's venv (psycopg) and returns the rows as JSON arrays. */
const SQL_SCRIPT = `
import json, sys, psycopg
url, sql = sys.argv[1], sys.argv[2]
with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
    cur = conn.execute(sql)
    rows = cur.fetchall() if cur.description else []
print(json.dumps(rows, default=str))
`;

function sql(url, statement) {
  const out = execFileSync(PYTHON, ['-c', SQL_SCRIPT, url, statement], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  return JSON.parse(out.trim() || '[]');
}

/** Reads manifest.json out of an archive with Python's zipfile. */
function readManifest(zipPath) {
  const script =
    'import json, sys, zipfile\n' +
    'with zipfile.ZipFile(sys.argv[1]) as z:\n' +
    '    print(z.read("manifest.json").decode("utf-8"))\n';
  return JSON.parse(execFileSync(PYTHON, ['-c', script, zipPath], { encoding: 'utf8', timeout: 60_000 }));
}

function quoteIdent(name) {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Per table: row count and an order-independent digest of every row's JSON. */
function fingerprint(url) {
  const parts = TABLES.map(
    (t) =>
      `SELECT '${t}', (SELECT count(*) FROM ${quoteIdent(t)}), ` +
      `(SELECT md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) FROM (SELECT row_to_json(r)::text AS x FROM ${quoteIdent(t)} r) s)`,
  );
  const rows = sql(url, parts.join(' UNION ALL '));
  const result = {};
  for (const [table, count, digest] of rows) result[table] = { count: Number(count), digest };
  return result;
}

function counts(fp) {
  return Object.fromEntries(Object.entries(fp).map(([t, v]) => [t, v.count]));
}

function runBackupd(args, env, what) {
  log(`backupd ${args.join(' ')}`);
  try {
    return execFileSync(BACKUPD, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  } catch (error) {
    const out = `${error.stdout ?? ''}${error.stderr ?? ''}`.trim();
    throw new Error(`${what} failed (exit ${error.status}): ${out}`);
  }
}

// ---------------------------------------------------------------------------------------------
// the server
// ---------------------------------------------------------------------------------------------

class Server {
  constructor(env, logFile) {
    this.env = env;
    this.logFile = logFile;
    this.proc = null;
    this.base = null;
  }

  async start(extraEnv = {}) {
    const port = await freePort();
    this.base = `http://127.0.0.1:${port}`;
    const out = fs.openSync(this.logFile, 'a');
    const keys = ['BACKUPD_API_KEY', 'BACKUPD_API_KEYS'].filter((k) => extraEnv[k]);
    log(`backupd serve --port ${port}${keys.length ? ` (with ${keys.join(', ')})` : ''}`);
    this.proc = spawn(BACKUPD, ['serve', '--host', '127.0.0.1', '--port', String(port)], {
      env: { ...this.env, ...extraEnv },
      stdio: ['ignore', out, out],
      detached: true, // its own process group, so that stop() reaches every child
    });
    fs.closeSync(out);
    let exited = null;
    this.proc.on('exit', (code, signal) => {
      exited = { code, signal };
    });
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      if (exited) throw new Error(`backupd serve exited early (${JSON.stringify(exited)}):\n${this.tail()}`);
      try {
        const res = await fetch(`${this.base}/api/health`);
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`backupd serve did not answer /api/health:\n${this.tail()}`);
      await sleep(250);
    }
    log(`server up at ${this.base}`);
  }

  /** The end of the server's log, without the access lines of successful requests. */
  tail(lines = 60) {
    try {
      return fs
        .readFileSync(this.logFile, 'utf8')
        .split('\n')
        .filter((line) => !/" [23]\d\d( [A-Za-z ]+)?$/.test(line))
        .slice(-lines)
        .join('\n');
    } catch {
      return '(no server log)';
    }
  }

  async stop() {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise((resolve) => proc.once('exit', resolve));
    const signal = (sig) => {
      try {
        process.kill(-proc.pid, sig);
      } catch {
        try {
          proc.kill(sig);
        } catch {
          // already gone
        }
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
    log('server stopped');
  }

  async api(pathname, { key } = {}) {
    const res = await fetch(`${this.base}${pathname}`, { headers: key ? { 'X-API-Key': key } : {} });
    const body = await res.text();
    return { status: res.status, json: body ? JSON.parse(body) : null };
  }
}

// ---------------------------------------------------------------------------------------------
// page helpers
// ---------------------------------------------------------------------------------------------

let shotNo = 0;
const shots = [];
/** A screenshot of one element (a panel), scrolled into view. */
async function screenshotOf(locator, name, what) {
  shotNo += 1;
  const file = `${String(shotNo).padStart(2, '0')}-${name}.png`;
  await locator.scrollIntoViewIfNeeded();
  await locator.screenshot({ path: path.join(SHOTS, file) });
  shots.push({ file, what });
  log(`screenshot ${file}: ${what}`);
}

async function screenshot(page, name, what, { fullPage = true } = {}) {
  shotNo += 1;
  const file = `${String(shotNo).padStart(2, '0')}-${name}.png`;
  await page.screenshot({ path: path.join(SHOTS, file), fullPage });
  shots.push({ file, what });
  log(`screenshot ${file}: ${what}`);
}

/** Polls a status badge until it reads `final`; returns every distinct text seen on the way. */
async function watchStatus(_page, badgeLocator, stepLocator, isDone) {
  const seen = [];
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    // allTextContents() does not wait: the step line disappears the moment the job ends.
    const texts = [(await badgeLocator.allTextContents())[0]?.trim()];
    if (stepLocator) texts.push((await stepLocator.allTextContents())[0]?.trim());
    const line = texts.filter(Boolean).join(' — ');
    if (line && seen[seen.length - 1] !== line) seen.push(line);
    if (texts[0] && isDone(texts[0])) return seen;
    if (Date.now() > deadline) throw new CheckFailed(`timed out; statuses seen: ${seen.join(' | ')}`);
    await sleep(50);
  }
}

function pageErrorsGuard(page, label) {
  const errors = [];
  page.on('pageerror', (error) => errors.push(`${label}: ${error.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') log(`(${label} console) ${msg.text()}`);
  });
  return errors;
}

// ---------------------------------------------------------------------------------------------
// the test
// ---------------------------------------------------------------------------------------------

async function main(state) {
  check(fs.existsSync(BACKUPD), `${BACKUPD} is missing: run \`make install\` first`);
  check(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run frontend/scripts/ensure-chromium.sh`);
  for (const [command, hint] of [
    [['serve', '--help'], 'serve'],
    [['demo-data', '--help'], 'demo-data'],
  ]) {
    const help = execFileSync(BACKUPD, command, { encoding: 'utf8' });
    check(!/not (yet )?available/i.test(help), `backupd ${hint} is still a placeholder ("not available yet")`);
  }
  check(fs.existsSync(path.join(ROOT, 'backupd', 'web', 'index.html')), 'backupd/web/index.html is missing: run `make ui`');

  fs.rmSync(SHOTS, { recursive: true, force: true });
  fs.mkdirSync(SHOTS, { recursive: true });
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'backupd-e2e-'));

  // 1. a fresh database with demo data ---------------------------------------------------------
  const dbName = `backupd_e2e_${process.pid}_${randomBytes(3).toString('hex')}`;
  const dbUrlObj = new URL(ADMIN_URL);
  dbUrlObj.pathname = `/${dbName}`;
  const dbUrl = dbUrlObj.toString();
  log(`creating database ${dbName} on ${dbUrlObj.host}`);
  sql(ADMIN_URL, `CREATE DATABASE ${quoteIdent(dbName)}`);
  const drillName = `${dbName}_drill`; // the staging database of restore drills (empty: the drill migrates it)
  sql(ADMIN_URL, `CREATE DATABASE ${quoteIdent(drillName)}`);
  const drillUrlObj = new URL(ADMIN_URL);
  drillUrlObj.pathname = `/${drillName}`;
  state.dropDatabase = () => {
    sql(ADMIN_URL, `DROP DATABASE IF EXISTS ${quoteIdent(dbName)} WITH (FORCE)`);
    sql(ADMIN_URL, `DROP DATABASE IF EXISTS ${quoteIdent(drillName)} WITH (FORCE)`);
  };

  const env = { ...process.env };
  for (const k of ['DATABASE_URL', 'BACKUPD_API_KEY', 'BACKUPD_TABLES', 'BACKUPD_BACKUP_DIR', 'BACKUPD_MAX_UPLOAD_BYTES',
    'BACKUPD_STORE', 'BACKUPD_SCHEDULE', 'BACKUPD_TIMEZONE', 'BACKUPD_KEEP_LAST', 'BACKUPD_KEEP_DAILY',
    'BACKUPD_KEEP_WEEKLY', 'BACKUPD_KEEP_MONTHLY', 'BACKUPD_DRILL_SCHEDULE', 'BACKUPD_TEST_CLOCK',
    'BACKUPD_PING_URL', 'BACKUPD_STALE_AFTER', 'BACKUPD_API_KEYS']) delete env[k];
  Object.assign(env, {
    BACKUPD_DATABASE_URL: dbUrl,
    BACKUPD_DRILL_DATABASE_URL: drillUrlObj.toString(),
    BACKUPD_SCHEDULE: '0 2 * * *',
    BACKUPD_TIMEZONE: 'Europe/Berlin',
    // A receiver that never answers (port 9): the page shows the delivery error, never the URL's password.
    BACKUPD_NOTIFY: `json://e2e:${NOTIFY_SECRET}@127.0.0.1:9/hook`,
    BACKUPD_DATA_DIR: path.join(state.tmp, 'data'),
    PYTHONUNBUFFERED: '1',
  });
  const backupDir = path.join(state.tmp, 'data', 'backups');
  runBackupd(['migrate'], env, 'backupd migrate');
  runBackupd(['demo-data', '--events', String(EVENTS)], env, 'backupd demo-data');

  const original = fingerprint(dbUrl);
  log(`demo data: ${JSON.stringify(counts(original))}`);
  check(original.events.count > 0, 'demo-data made no events');
  check(original.settings.count > 0, 'demo-data made no settings (the test deletes them and expects them back)');
  const originalSettings = sql(dbUrl, 'SELECT key, value::text FROM settings ORDER BY key');

  // 2. the server -------------------------------------------------------------------------------
  const server = new Server(env, path.join(state.tmp, 'server.log'));
  state.server = server;
  await server.start();

  const index = await fetch(`${server.base}/`);
  check(index.ok, `GET / answered ${index.status}`);
  const html = await index.text();
  check(/<div id="root">/.test(html) && /\/assets\/index-[\w-]+\.js/.test(html), 'GET / is not the built backup page');

  state.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const browser = state.browser;
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 }, reducedMotion: 'reduce' });
  const page = await context.newPage();
  state.page = page;
  const pageErrors = pageErrorsGuard(page, 'desktop');

  await page.goto(`${server.base}/`);
  await page.getByRole('heading', { name: 'backupd', level: 1 }).waitFor();
  await page.getByText('No backups yet').waitFor({ timeout: WAIT_MS });
  await screenshot(page, 'page-empty', 'the page at / on a fresh database: create button, empty backup list, restore drop zone');

  // 3. create a backup by keyboard: Tab past the skip link to the button, press Enter ------------
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  const createButton = page.getByRole('button', { name: 'Create backup' });
  check(await createButton.evaluate((el) => el === document.activeElement), 'Tab did not reach the Create backup button');
  await page.keyboard.press('Enter');
  const backupJob = page.getByTestId('backup-job');
  await backupJob.waitFor();
  await screenshot(page, 'backup-started', 'right after Create backup: status badge, progress bar and current step');
  const backupStatuses = await watchStatus(
    page,
    backupJob.locator('.badge'),
    backupJob.locator('.current-step'),
    (s) => /completed|failed/i.test(s),
  );
  log(`backup statuses seen: ${backupStatuses.join(' | ')}`);
  const failedText = await backupJob.locator('[role=alert]').allTextContents();
  check(!/failed/i.test(backupStatuses[backupStatuses.length - 1]), `backup failed: ${failedText.join(' ')}`);
  const bar = backupJob.getByRole('progressbar', { name: 'Backup progress' });
  checkEqual(await bar.getAttribute('aria-valuenow'), '100', 'backup progress bar at the end');
  await page.locator('.backup-item').first().waitFor();
  await screenshot(page, 'backup-completed', 'backup completed at 100%, with its size and a download button; it is listed under Saved backups');

  // the list: one backup, human size, download link
  const items = page.locator('.backup-item');
  checkEqual(await items.count(), 1, 'backups listed');
  const backupId = await items.first().getAttribute('data-backup-id');
  const sizeText = (await items.first().locator('.backup-size').textContent())?.trim() ?? '';
  check(/^\d+(\.\d+)? (B|KB|MB|GB)$/.test(sizeText), `size is not in human units: "${sizeText}"`);
  const job = await server.api(`/api/backup/${backupId}`);
  checkEqual(job.status, 200, 'GET /api/backup/{id}');
  checkEqual(job.json.status, 'completed', 'backup job status');

  // 4. download it ------------------------------------------------------------------------------
  const downloadLink = items.first().getByRole('link', { name: /^Download the backup from/ });
  checkEqual(await downloadLink.getAttribute('href'), `/api/backup/${backupId}/download`, 'download link');
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: WAIT_MS }), downloadLink.click()]);
  const zipPath = path.join(state.tmp, download.suggestedFilename() || 'backup.zip');
  await download.saveAs(zipPath);
  const zipBytes = fs.readFileSync(zipPath);
  check(zipBytes.subarray(0, 2).toString('latin1') === 'PK', 'the download is not a ZIP file');
  checkEqual(zipBytes.length, job.json.file_size_bytes, 'downloaded size vs file_size_bytes');
  check(/\.zip$/.test(download.suggestedFilename()), `download name "${download.suggestedFilename()}" does not end in .zip`);
  log(`downloaded ${download.suggestedFilename()} (${zipBytes.length} bytes)`);

  const manifest = readManifest(zipPath);
  const manifestCounts = Object.fromEntries(TABLES.map((t) => [t, manifest.contents?.[t]?.count]));
  checkEqual(manifestCounts, counts(original), 'archive manifest counts vs the database at backup time');
  checkEqual(manifest.backup_id != null, true, 'manifest has a backup_id');

  // 5. change the data ----------------------------------------------------------------------------
  sql(
    dbUrl,
    "DELETE FROM settings; " +
      'DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT 25); ' +
      `INSERT INTO settings (key, value) VALUES ('e2e_stray', '{"added": "after the backup"}'::jsonb);`,
  );
  const changed = fingerprint(dbUrl);
  log(`changed data: ${JSON.stringify(counts(changed))}`);
  checkEqual(changed.settings.count, 1, 'settings after the change');
  check(changed.events.count === original.events.count - 25, 'events were not deleted');

  // 6. restore through the dialog ---------------------------------------------------------------
  await page.locator('#restore-file').setInputFiles(zipPath);
  const restoreButton = page.getByRole('button', { name: 'Restore from this file…' });
  await restoreButton.waitFor();
  await screenshot(page, 'restore-file-chosen', 'the downloaded archive chosen for restore, with its name and size');

  await restoreButton.click();
  const dialog = page.getByRole('alertdialog', { name: 'Replace the current data?' });
  await dialog.waitFor();
  const dialogText = (await dialog.textContent()) ?? '';
  check(
    dialogText.includes('replaces the events, alerts, cameras, zones, prompts, baselines, household members and settings'),
    `the dialog does not say plainly what is replaced: "${dialogText}"`,
  );
  check(
    await dialog.getByRole('button', { name: 'Cancel' }).evaluate((el) => el === document.activeElement),
    'focus is not on Cancel when the restore dialog opens',
  );
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.activeElement?.textContent === 'Restore from this file…');
  log('Escape closed the dialog and focus went back to "Restore from this file…"');
  await page.keyboard.press('Enter'); // reopen from the keyboard
  await dialog.waitFor();
  const uploadSafety = dialog.getByRole('checkbox', { name: /safety backup/ });
  check(await uploadSafety.isChecked(), 'the safety backup is not on by default in the upload dialog');
  await screenshot(page, 'restore-confirm-dialog', 'the confirmation dialog naming every table the restore replaces, Cancel focused, safety backup on', { fullPage: false });
  sql(dbUrl, 'SELECT 1'); // still the changed data: nothing happened before confirming
  checkEqual(counts(fingerprint(dbUrl)), counts(changed), 'data before the restore is confirmed');

  // This upload restores without a safety backup (form field safety_backup=false); the saved-backup
  // restore of step 8c takes the default one and undoes the restore with it.
  await uploadSafety.uncheck();
  await dialog.getByText('Without a safety backup this restore cannot be undone.').waitFor();
  await dialog.getByRole('button', { name: 'Replace data and restore' }).click();
  const restoreJob = page.getByTestId('restore-job');
  await restoreJob.waitFor();
  await screenshot(page, 'restore-started', 'right after confirming: upload / validate / restore / done steps and the progress bar');
  const restoreStatuses = await watchStatus(
    page,
    restoreJob.locator('[data-testid=restore-status]'),
    restoreJob.locator('.current-step'),
    (s) => /completed|failed/i.test(s),
  );
  log(`restore statuses seen: ${restoreStatuses.join(' | ')}`);
  const restoreAlerts = await restoreJob.locator('[role=alert]').allTextContents();
  check(!/failed/i.test(restoreStatuses[restoreStatuses.length - 1]), `restore failed: ${restoreAlerts.join(' ')}`);
  const table = restoreJob.getByTestId('items-restored');
  await table.waitFor();
  await screenshot(page, 'restore-completed', 'restore completed: all steps done and the rows restored per table');

  // 7. the database holds the archive's data again ----------------------------------------------
  const shown = {};
  for (const row of await table.locator('tbody tr').all()) {
    const name = await row.getAttribute('data-table');
    const value = Number(((await row.locator('td').textContent()) ?? '').replace(/[^\d]/g, ''));
    shown[name] = value;
  }
  const restored = fingerprint(dbUrl);
  for (const t of TABLES) {
    checkEqual(shown[t], manifestCounts[t], `items_restored shown for ${t} vs the manifest`);
    checkEqual(restored[t].count, manifestCounts[t], `rows in ${t} after the restore vs the manifest`);
    checkEqual(restored[t].digest, original[t].digest, `the rows of ${t} after the restore vs at backup time`);
  }
  checkEqual(sql(dbUrl, 'SELECT key, value::text FROM settings ORDER BY key'), originalSettings, 'settings after the restore');
  checkEqual(sql(dbUrl, "SELECT count(*) FROM settings WHERE key = 'e2e_stray'"), [[0]], 'the stray setting is gone');
  log(`restored: ${JSON.stringify(counts(restored))} — identical to the backup`);
  const uploadJob = (await server.api(`/api/backup/restore/${await restoreJob.getAttribute('data-job-id')}`)).json;
  checkEqual(uploadJob.safety_backup_id, null, 'safety_backup_id of an upload restore without a safety backup');
  checkEqual((await server.api('/api/backup')).json.total, 1, 'backups after a restore without a safety backup');
  checkEqual(await restoreJob.getByRole('button', { name: 'Undo this restore' }).count(), 0,
    'an undo offered without a safety backup');

  // 8. a file that is not a ZIP, dropped on the drop zone: the API's message, nothing changes -----
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['this is not a zip archive\n'], 'not-a-backup.zip', { type: 'application/zip' }));
    const zone = document.querySelector('[data-testid=dropzone]');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
    }
  });
  await page.getByText('not-a-backup.zip').waitFor();
  await page.getByRole('button', { name: 'Restore from this file…' }).click();
  await dialog.getByRole('button', { name: 'Replace data and restore' }).click();
  const refusal = restoreJob.getByRole('alert');
  await refusal.waitFor({ timeout: WAIT_MS });
  const refusalText = (await refusal.textContent()) ?? '';
  check(
    refusalText.includes('Invalid file type. Expected a .zip backup file.'),
    `the API's message is not shown for a non-ZIP upload: "${refusalText}"`,
  );
  await screenshot(page, 'restore-rejected', "a dropped file that is not a ZIP: the API's 400 message, shown as an error");
  checkEqual(fingerprint(dbUrl), restored, 'data after a refused upload');

  // 8b. automatic backups, pinning and a restore drill ---------------------------------------------
  const auto = page.getByTestId('automatic-backups');
  await auto.getByTestId('schedule-words').waitFor();
  checkEqual((await auto.getByTestId('schedule-words').textContent())?.trim(), 'Every day at 02:00 (Europe/Berlin)',
    'the schedule in words');
  const nextRun = (await auto.getByTestId('next-run').textContent()) ?? '';
  check(/\bin \d+ (minutes?|hours?|day)\)/.test(nextRun), `the next run is not shown as a time to come: "${nextRun}"`);
  await screenshotOf(auto, 'automatic-backups', 'the Automatic backups panel: schedule in words, next run, last scheduled result, retention and the form');

  const cron = auto.getByLabel('Schedule', { exact: true });
  await cron.fill('61 2 * * *');
  await auto.getByRole('button', { name: 'Save schedule' }).click();
  const scheduleError = auto.getByTestId('schedule-error');
  await scheduleError.waitFor({ timeout: WAIT_MS });
  checkEqual((await scheduleError.textContent())?.trim(), "Not saved: Invalid cron expression '61 2 * * *': bad minute",
    "the API's reason for an invalid schedule");
  checkEqual((await server.api('/api/schedule')).json.schedule, '0 2 * * *', 'the schedule after a refused change');
  await screenshotOf(auto, 'schedule-invalid', "an invalid cron expression: the API's 400 reason under the form, nothing saved");

  await cron.fill('30 3 * * 1-5');
  await auto.getByLabel('Daily').fill('14');
  await auto.getByRole('button', { name: 'Save schedule' }).click();
  await auto.getByText('Every Monday to Friday at 03:30 (Europe/Berlin)').waitFor({ timeout: WAIT_MS });
  const savedSchedule = (await server.api('/api/schedule')).json;
  checkEqual([savedSchedule.schedule, savedSchedule.timezone, savedSchedule.retention.keep_daily],
    ['30 3 * * 1-5', 'Europe/Berlin', 14], 'the schedule saved on the server');
  log(`schedule saved; next run ${savedSchedule.next_run_at}`);

  const item = page.locator(`.backup-item[data-backup-id="${backupId}"]`);
  checkEqual((await item.getByTestId('trigger-badge').textContent())?.trim(), 'manual', 'trigger badge of a clicked backup');
  await item.getByRole('button', { name: /^Pin the backup from/ }).click();
  await item.getByRole('button', { name: /^Unpin the backup from/ }).waitFor({ timeout: WAIT_MS });
  await item.locator('.badge-pinned').waitFor();
  checkEqual((await server.api(`/api/backup/${backupId}`)).json.pinned, true, 'pinned on the server');
  await screenshotOf(page.locator('section[aria-labelledby=list-heading]'), 'backup-pinned',
    'the saved backup with its "manual" trigger badge, pinned: a "pinned" badge and an Unpin toggle');

  const drills = page.getByTestId('drills');
  await drills.getByRole('button', { name: 'Start drill' }).click();
  const verdict = drills.getByTestId('last-drill');
  await verdict.getByText(/passed|failed/).waitFor({ timeout: WAIT_MS });
  const verdictText = (await verdict.textContent())?.trim() ?? '';
  const drillList = (await server.api('/api/drills')).json;
  check(verdictText.startsWith('Last verified restore: passed'),
    `the drill did not pass: "${verdictText}" ${JSON.stringify(drillList.drills[0])}`);
  checkEqual(drillList.drills[0].backup_id, backupId, 'the drilled backup');
  checkEqual(Object.keys(drillList.drills[0].tables).sort(), [...TABLES].sort(), 'tables compared by the drill');
  check(Object.values(drillList.drills[0].tables).every((t) => t.checksum_match), 'a table of the drill did not match');
  checkEqual(counts(fingerprint(drillUrlObj.toString())), manifestCounts, 'rows in the staging database after the drill');
  await screenshotOf(drills, 'drill-passed', 'a restore drill of the saved backup: "Last verified restore: passed", and the history');

  // 8b'. the health line and the notifications card (docs/operations.md) ---------------------------------
  await page.reload();
  const health = page.getByTestId('health');
  await health.getByText(/Last drill passed/).waitFor({ timeout: WAIT_MS });
  const notifications = page.getByTestId('notifications');
  await notifications.getByRole('button', { name: 'Send test' }).click(); // to port 9: fails, and says why
  await notifications.getByText('Test notification queued for 1 target.').waitFor({ timeout: WAIT_MS });
  await health.getByText(/Last notification failed: #1 json:\/\/127\.0\.0\.1…: /).waitFor({ timeout: WAIT_MS });
  check(/Last backup \d+ (s|min) ago/.test((await health.getByTestId('health-backup').textContent()) ?? ''), 'health line: last backup');
  await screenshotOf(health, 'health-line', 'the health line: last backup and its age, next scheduled time, last drill, last notification error');
  await screenshotOf(page.getByTestId('notifications'), 'notifications', 'the notifications card: targets without secrets, the last error, Send test');
  check(!(await page.content()).includes(NOTIFY_SECRET), 'the notification URL password is on the page');

  // 8c. restore the saved backup by id: dry-run preview, untick a table, safety backup, undo --------
  const beforeChange = fingerprint(dbUrl);
  checkEqual(beforeChange, original, 'data before the saved-backup restore (as at backup time)');
  const firstSettingKeys = sql(dbUrl, 'SELECT key FROM settings ORDER BY key LIMIT 3').map(([k]) => k);
  checkEqual(firstSettingKeys.length, 3, 'settings to change (demo data has at least three)');
  check(original.household_members.count > 0, 'demo-data made no household members');
  sql(
    dbUrl,
    // 40 events written after the backup (the restore removes them), 5 deleted (it brings them back;
    // ones without alerts, so no alert goes with them), 3 settings changed and 1 added, 1 member deleted.
    "INSERT INTO events (batch_id, camera_id, started_at, summary) " +
      "SELECT 'e2e-after', camera_id, now(), 'written after the backup' FROM events ORDER BY id LIMIT 40; " +
      'DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.batch_id <> \'e2e-after\' AND NOT EXISTS ' +
      '(SELECT 1 FROM alerts a WHERE a.event_id = e.id) ORDER BY e.id LIMIT 5); ' +
      `UPDATE settings SET value = '{"changed": "after the backup"}'::jsonb WHERE key IN (${firstSettingKeys
        .map((k) => `'${k.replace(/'/g, "''")}'`)
        .join(', ')}); ` +
      `INSERT INTO settings (key, value) VALUES ('e2e_after', '"added after the backup"'::jsonb); ` +
      'DELETE FROM household_members WHERE id = (SELECT min(id) FROM household_members);',
  );
  const changedAgain = fingerprint(dbUrl);
  checkEqual(changedAgain.events.count, original.events.count + 35, 'events after the second change');
  log(`changed again: ${JSON.stringify(counts(changedAgain))}`);

  await page.reload(); // a fresh list (the drill panel is done)
  const savedItem = page.locator(`.backup-item[data-backup-id="${backupId}"]`);
  await savedItem.getByRole('button', { name: /^Restore the backup from/ }).click();
  const restoreDialog = page.getByRole('alertdialog', { name: 'Restore this backup?' });
  await restoreDialog.waitFor();
  const previewBox = restoreDialog.getByTestId('restore-preview');
  await restoreDialog.getByRole('checkbox', { name: 'Events', exact: true }).waitFor({ timeout: WAIT_MS });
  const previewRow = async (label) =>
    ((await restoreDialog.locator('li.table-choice', { has: page.getByRole('checkbox', { name: label, exact: true }) })
      .locator('.table-choice-detail').textContent()) ?? '').trim();
  const expectedPreview = {
    Events: '40 events added since this backup will be removed; 5 events deleted since this backup will come back',
    Settings: '1 setting added since this backup will be removed; 3 settings changed since this backup will be set back',
    'Household members': '1 household member deleted since this backup will come back',
    Alerts: `No change (${original.alerts.count.toLocaleString('en')} alerts, all as in the backup)`,
  };
  for (const [label, text] of Object.entries(expectedPreview)) checkEqual(await previewRow(label), text, `preview of ${label}`);
  const dryRun = (await server.api(`/api/backup/restore/${await previewBox.getAttribute('data-job-id')}`)).json;
  checkEqual([dryRun.status, dryRun.dry_run, dryRun.progress.current_step], ['completed', true, 'Dry run complete'], 'the dry run');
  const pick = (ch) => ch && [ch.added, ch.removed, ch.changed];
  checkEqual(
    [pick(dryRun.changes.events), pick(dryRun.changes.settings), pick(dryRun.changes.household_members), pick(dryRun.changes.alerts)],
    [[5, 40, 0], [0, 1, 3], [1, 0, 0], [0, 0, 0]],
    'the dry run\'s changes (added, removed, changed)',
  );
  checkEqual(fingerprint(dbUrl), changedAgain, 'data after the dry run (it changes nothing)');
  const savedSafety = restoreDialog.getByRole('checkbox', { name: /safety backup/ });
  check(await savedSafety.isChecked(), 'the safety backup is not on by default');
  check(await restoreDialog.getByRole('button', { name: 'Cancel' }).evaluate((el) => el === document.activeElement),
    'focus is not on Cancel when the restore dialog opens');

  // Leave household members as they are now.
  await restoreDialog.getByRole('checkbox', { name: 'Household members', exact: true }).uncheck();
  checkEqual(await previewRow('Household members'), 'Left as it is now', 'an unticked table');
  await screenshot(page, 'restore-preview', 'Restore… of a saved backup: the dry run in words per table, household members unticked, safety backup on', { fullPage: false });

  await restoreDialog.getByRole('button', { name: 'Restore 7 tables' }).click();
  await restoreDialog.waitFor({ state: 'detached' });
  const savedJob = page.getByTestId('saved-restore-job');
  await savedJob.waitFor();
  const savedStatuses = await watchStatus(page, savedJob.locator('[data-testid=restore-status]'), savedJob.locator('.current-step'),
    (s) => /completed|failed/i.test(s));
  log(`saved-backup restore statuses seen: ${savedStatuses.join(' | ')}`);
  check(!/failed/i.test(savedStatuses[savedStatuses.length - 1]),
    `restore of the saved backup failed: ${(await savedJob.locator('[role=alert]').allTextContents()).join(' ')}`);
  const undoButton = savedJob.getByRole('button', { name: 'Undo this restore' });
  await undoButton.waitFor();
  await screenshotOf(page.locator('section[aria-labelledby=list-heading]'), 'saved-restore-completed',
    'the saved backup restored (7 tables): rows per table and "Undo this restore"; the safety backup is listed');

  const restoredById = fingerprint(dbUrl);
  for (const t of TABLES.filter((t) => t !== 'household_members')) {
    checkEqual(restoredById[t].digest, original[t].digest, `the rows of ${t} after restoring the saved backup vs at backup time`);
  }
  checkEqual(restoredById.household_members, changedAgain.household_members, 'household members (unticked) after the restore');
  const savedJobId = await savedJob.getAttribute('data-job-id');
  const byId = (await server.api(`/api/backup/restore/${savedJobId}`)).json;
  checkEqual([byId.status, byId.dry_run, byId.backup_id], ['completed', false, backupId], 'the restore job');
  checkEqual([...byId.tables].sort(), TABLES.filter((t) => t !== 'household_members').sort(), 'tables sent for the restore');
  check(byId.safety_backup_id, 'the restore has no safety_backup_id');
  const safetyBackup = (await server.api(`/api/backup/${byId.safety_backup_id}`)).json;
  checkEqual([safetyBackup.status, safetyBackup.trigger], ['completed', 'safety'], 'the safety backup');
  await page.locator(`.backup-item[data-backup-id="${byId.safety_backup_id}"]`).getByText('safety').waitFor({ timeout: WAIT_MS });
  log(`restored by id: ${JSON.stringify(counts(restoredById))}; safety backup ${byId.safety_backup_id}`);

  // Undo: restores the safety backup, i.e. the data as it was just before the restore.
  await undoButton.click();
  const undoDialog = page.getByRole('alertdialog', { name: 'Undo this restore?' });
  await undoDialog.waitFor();
  await screenshot(page, 'undo-confirm', 'Undo this restore asks first: what goes back, and that the undo takes its own safety backup', { fullPage: false });
  await undoDialog.getByRole('button', { name: 'Undo the restore' }).click();
  const undoJob = savedJob.getByTestId('undo-job');
  await undoJob.waitFor();
  const undoStatuses = await watchStatus(page, undoJob.locator('[data-testid=restore-status]'), undoJob.locator('.current-step'),
    (s) => /completed|failed/i.test(s));
  log(`undo statuses seen: ${undoStatuses.join(' | ')}`);
  check(!/failed/i.test(undoStatuses[undoStatuses.length - 1]),
    `the undo failed: ${(await undoJob.locator('[role=alert]').allTextContents()).join(' ')}`);
  await undoJob.getByText(/^Undone .* just before the restore\./).waitFor();
  await screenshotOf(savedJob, 'undo-completed', 'the restore undone: the tables it replaced are back as just before it');

  checkEqual(fingerprint(dbUrl), changedAgain, 'data after the undo vs just before the restore');
  const undone = (await server.api(`/api/backup/restore/${await undoJob.getAttribute('data-job-id')}`)).json;
  checkEqual([undone.status, undone.backup_id], ['completed', byId.safety_backup_id], 'the undo job restores the safety backup');
  log(`undone: ${JSON.stringify(counts(fingerprint(dbUrl)))} — as just before the restore`);

  // Only the one backup again for the steps below (the API key section deletes it and expects none).
  for (const id of [byId.safety_backup_id, undone.safety_backup_id].filter(Boolean)) {
    const res = await fetch(`${server.base}/api/backup/${id}`, { method: 'DELETE' });
    checkEqual(res.status, 200, `DELETE of safety backup ${id}`);
  }
  checkEqual((await server.api('/api/backup')).json.total, 1, 'backups after removing the safety backups');

  check(pageErrors.length === 0, `errors in the page: ${pageErrors.join('; ')}`);
  await context.close();

  // 9. with an API key: asked once, kept for the session, downloads and deletes work -------------
  await server.stop();
  const apiKey = `e2e-${randomBytes(8).toString('hex')}`;
  // From now on new archives are age-encrypted (the phone step's backup shows the lock).
  const identityFile = path.join(state.tmp, 'age-identity.txt');
  const recipient = runBackupd(['keygen', '-o', identityFile], env, 'backupd keygen').trim().split('\n')[0];
  check(/^age1[0-9a-z]+$/.test(recipient), `backupd keygen printed no recipient: "${recipient}"`);
  await server.start({ BACKUPD_API_KEY: apiKey, BACKUPD_ENCRYPT_TO: recipient, BACKUPD_AGE_IDENTITY_FILE: identityFile });
  checkEqual((await server.api('/api/backup')).status, 401, 'GET /api/backup without the key');

  const keyContext = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 }, reducedMotion: 'reduce' });
  const keyPage = await keyContext.newPage();
  state.page = keyPage;
  const keyErrors = pageErrorsGuard(keyPage, 'api-key');
  await keyPage.goto(`${server.base}/`);
  const keyDialog = keyPage.getByRole('dialog', { name: 'API key required' });
  await keyDialog.waitFor({ timeout: WAIT_MS });
  const keyInput = keyDialog.getByLabel('API key');
  check(await keyInput.evaluate((el) => el === document.activeElement), 'the API key field is not focused');
  await screenshot(keyPage, 'api-key-asked', 'BACKUPD_API_KEY is set: the page asks for the key in a small form', { fullPage: false });
  await keyInput.fill('not-the-key');
  await keyPage.keyboard.press('Enter');
  await keyDialog.getByText('That API key was not accepted').waitFor({ timeout: WAIT_MS });
  await screenshot(keyPage, 'api-key-rejected', 'a wrong key: the form says so and asks again', { fullPage: false });
  await keyDialog.getByLabel('API key').fill(apiKey);
  await keyPage.keyboard.press('Enter');
  await keyDialog.waitFor({ state: 'detached' });
  await keyPage.locator('.backup-item').first().waitFor({ timeout: WAIT_MS });
  checkEqual(
    await keyPage.evaluate(() => sessionStorage.getItem('backupd.apiKey')),
    apiKey,
    'the key kept in sessionStorage',
  );
  await keyPage.reload();
  await keyPage.locator('.backup-item').first().waitFor({ timeout: WAIT_MS });
  checkEqual(await keyPage.getByRole('dialog', { name: 'API key required' }).count(), 0, 'asked again after a reload');
  await screenshot(keyPage, 'api-key-accepted', 'with the key: the backup list, no second question after a reload');

  const keyItem = keyPage.locator(`.backup-item[data-backup-id="${backupId}"]`);
  const [keyDownload] = await Promise.all([
    keyPage.waitForEvent('download', { timeout: WAIT_MS }),
    keyItem.getByRole('link', { name: /^Download the backup from/ }).click(),
  ]);
  const keyZip = path.join(state.tmp, 'with-key.zip');
  await keyDownload.saveAs(keyZip);
  checkEqual(sha256(keyZip), sha256(zipPath), 'the archive downloaded with the key vs without');
  log(`download with the key: ${keyDownload.suggestedFilename()}, same bytes`);

  // delete with confirmation (Cancel first, then Delete)
  await keyItem.getByRole('button', { name: /^Delete the backup from/ }).click();
  const deleteDialog = keyPage.getByRole('alertdialog', { name: 'Delete this backup?' });
  await deleteDialog.waitFor();
  await screenshot(keyPage, 'delete-confirm', 'Delete asks for confirmation, naming the backup’s date and size', { fullPage: false });
  await deleteDialog.getByRole('button', { name: 'Cancel' }).click();
  await deleteDialog.waitFor({ state: 'detached' });
  checkEqual(await keyPage.locator('.backup-item').count(), 1, 'backups after Cancel');
  await keyItem.getByRole('button', { name: /^Delete the backup from/ }).click();
  await deleteDialog.getByRole('button', { name: 'Delete backup' }).click();
  await keyPage.getByText('No backups yet').waitFor({ timeout: WAIT_MS });
  await screenshot(keyPage, 'deleted', 'after Delete backup: the list is empty again');
  const listAfter = await server.api('/api/backup', { key: apiKey });
  checkEqual(listAfter.json.total, 0, 'backups on the server after delete');
  const left = fs.existsSync(backupDir) ? fs.readdirSync(backupDir).filter((f) => f.endsWith('.zip')) : [];
  checkEqual(left, [], 'archive files left in the backup directory');
  check(keyErrors.length === 0, `errors in the page: ${keyErrors.join('; ')}`);
  await keyContext.close();

  // 10. a phone-sized screen ----------------------------------------------------------------------
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    reducedMotion: 'reduce',
  });
  await phone.addInitScript((key) => sessionStorage.setItem('backupd.apiKey', key), apiKey);
  const phonePage = await phone.newPage();
  state.page = phonePage;
  const phoneErrors = pageErrorsGuard(phonePage, 'phone');
  await phonePage.goto(`${server.base}/`);
  await phonePage.getByText('No backups yet').waitFor({ timeout: WAIT_MS });
  await phonePage.getByRole('button', { name: 'Create backup' }).tap();
  const phoneJob = phonePage.getByTestId('backup-job');
  await phoneJob.waitFor();
  await watchStatus(phonePage, phoneJob.locator('.badge'), null, (s) => /completed|failed/i.test(s));
  const phoneItem = phonePage.locator('.backup-item').first();
  await phoneItem.waitFor({ timeout: WAIT_MS });
  const lock = phoneItem.getByTestId('encrypted-badge');
  await lock.waitFor({ timeout: WAIT_MS });
  checkEqual((await lock.textContent())?.trim(), 'encrypted', 'the encrypted badge text');
  checkEqual(await lock.getByRole('img', { name: 'Lock' }).count(), 1, 'the lock icon with its text alternative');
  const phoneList = (await server.api('/api/backup', { key: apiKey })).json;
  checkEqual(phoneList.backups.map((b) => b.encrypted), [true], 'the new backup is stored encrypted');
  // Against the screen's 390 px, not innerWidth: on a phone the layout viewport widens to fit a too-wide page.
  const overflow = await phonePage.evaluate(() => document.documentElement.scrollWidth - 390);
  check(overflow <= 0, `the page scrolls sideways on a 390 px screen (${overflow} px too wide)`);
  await screenshot(phonePage, 'phone', 'a 390×844 phone screen after an (encrypted) backup: the lock and "encrypted", one column, full-width buttons, no sideways scrolling');

  // The restore preview of the encrypted backup, on the phone: the dry run reads it with the identity.
  await phoneItem.getByRole('button', { name: /^Restore the backup from/ }).tap();
  const phoneDialog = phonePage.getByRole('alertdialog', { name: 'Restore this backup?' });
  await phoneDialog.getByRole('checkbox', { name: 'Events', exact: true }).waitFor({ timeout: WAIT_MS });
  const phoneEvents = (await phoneDialog.locator('li.table-choice[data-table=events] .table-choice-detail').textContent())?.trim();
  check(/^No change \([\d,]+ events, all as in the backup\)$/.test(phoneEvents ?? ''), `preview of an unchanged table: "${phoneEvents}"`);
  const dialogOverflow = await phoneDialog.evaluate((el) => el.scrollWidth - el.clientWidth);
  check(dialogOverflow <= 0, `the restore dialog scrolls sideways on a 390 px screen (${dialogOverflow} px too wide)`);
  await screenshot(phonePage, 'phone-restore-preview', 'the restore preview of the encrypted backup on a phone: nothing would change', { fullPage: false });
  await phoneDialog.getByRole('button', { name: 'Cancel' }).tap();
  await phoneDialog.waitFor({ state: 'detached' });
  check(phoneErrors.length === 0, `errors in the page: ${phoneErrors.join('; ')}`);
  await phone.close();

  // 11. named keys with roles: each role's page shows only what it may do ---------------------------
  await server.stop();
  const roleKeys = Object.fromEntries(['viewer', 'operator', 'admin'].map((r) => [r, `e2e-${r}-${randomBytes(8).toString('hex')}`]));
  const adminDigest = createHash('sha256').update(roleKeys.admin).digest('hex');
  await server.start({
    BACKUPD_API_KEYS: `e2e-viewer:viewer:${roleKeys.viewer},e2e-operator:operator:${roleKeys.operator},e2e-admin:admin:sha256:${adminDigest}`,
  });
  const refused = await fetch(`${server.base}/api/backup`, { method: 'POST', headers: { 'X-API-Key': roleKeys.viewer } });
  checkEqual([refused.status, (await refused.json()).detail], [403, 'Role viewer may not start a backup'], 'POST /api/backup with the viewer key');

  /** Every control the role rules hide or show, on the page with one backup listed. */
  const controls = (p) => {
    const item = p.locator('.backup-item').first();
    return {
      'Create backup': p.getByRole('button', { name: 'Create backup', exact: true }),
      'Start drill': p.getByRole('button', { name: /^(Start drill|Drill running…)$/ }),
      'Send test': p.getByTestId('notify-test'),
      Pin: item.getByRole('button', { name: /^(Pin|Unpin) the backup from/ }),
      'Restore…': item.getByRole('button', { name: /^Restore the backup from/ }),
      Download: item.getByRole('link', { name: /^Download the backup from/ }),
      Delete: item.getByRole('button', { name: /^Delete the backup from/ }),
      'the restore panel': p.getByRole('heading', { name: 'Restore from a backup', exact: true }),
      'Save schedule': p.getByRole('button', { name: 'Save schedule', exact: true }),
      'the audit panel': p.getByTestId('audit'),
    };
  };
  const mayShow = { viewer: [], operator: ['Create backup', 'Start drill', 'Send test'], admin: 'all' };

  /** Opens the page, types the role's key into the key form, waits until the page knows the role. */
  async function openAs(role) {
    const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 }, reducedMotion: 'reduce' });
    const p = await ctx.newPage();
    state.page = p;
    const errors = pageErrorsGuard(p, role);
    const whoami = p.waitForResponse((r) => new URL(r.url()).pathname === '/api/whoami' && r.ok(), { timeout: WAIT_MS });
    await p.goto(`${server.base}/`);
    const dialog = p.getByRole('dialog', { name: 'API key required' });
    await dialog.waitFor({ timeout: WAIT_MS });
    await dialog.getByLabel('API key').fill(roleKeys[role]);
    await p.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    checkEqual(await (await whoami).json(), { name: `e2e-${role}`, role, keys_configured: true }, `GET /api/whoami as the ${role}`);
    await p.locator('.backup-item').first().waitFor({ timeout: WAIT_MS });
    await p.getByTestId('schedule-words').waitFor({ timeout: WAIT_MS });
    return { ctx, p, errors };
  }

  /** The role's controls are shown, the others are not (the page shows every control until /api/whoami answers). */
  async function checkControls(p, role) {
    const shown = [];
    for (const [name, locator] of Object.entries(controls(p))) {
      if (mayShow[role] === 'all' || mayShow[role].includes(name)) {
        await locator.first().waitFor({ timeout: WAIT_MS });
        shown.push(name);
      } else {
        await locator.first().waitFor({ state: 'hidden', timeout: 10_000 });
        checkEqual(await locator.first().isVisible(), false, `"${name}" shown on the ${role}'s page`);
      }
    }
    log(`${role}: shows ${shown.length ? shown.join(', ') : 'no action'}`);
  }

  const viewer = await openAs('viewer');
  await checkControls(viewer.p, 'viewer');
  await screenshot(viewer.p, 'role-viewer', 'a viewer key: the list, schedule, drills and notifications to read; no backup, restore, download, delete, pin, schedule change or audit');
  check(viewer.errors.length === 0, `errors in the page: ${viewer.errors.join('; ')}`);
  await viewer.ctx.close();

  const operator = await openAs('operator');
  await checkControls(operator.p, 'operator');
  const itemsBefore = await operator.p.locator('.backup-item').count();
  await operator.p.getByRole('button', { name: 'Create backup' }).click();
  const operatorJob = operator.p.getByTestId('backup-job');
  await operatorJob.waitFor();
  const operatorStatuses = await watchStatus(operator.p, operatorJob.locator('.badge'), null, (s) => /completed|failed/i.test(s));
  check(!/failed/i.test(operatorStatuses[operatorStatuses.length - 1]), `the operator's backup failed: ${operatorStatuses.join(' | ')}`);
  await operator.p.locator('.backup-item').nth(itemsBefore).waitFor({ timeout: WAIT_MS });
  checkEqual(await operatorJob.getByRole('link', { name: /Download/ }).count(), 0, 'a download link after the operator\'s backup');
  await checkControls(operator.p, 'operator');
  await screenshot(operator.p, 'role-operator', 'an operator key: Create backup (just used), Start drill and Send test; no restore, download, delete, pin, schedule change or audit');
  check(operator.errors.length === 0, `errors in the page: ${operator.errors.join('; ')}`);
  await operator.ctx.close();

  const admin = await openAs('admin');
  await checkControls(admin.p, 'admin');
  const auditPanel = admin.p.getByTestId('audit');
  const auditRow = (who, what, answer) =>
    auditPanel.getByTestId('audit-entry').filter({ hasText: who }).filter({ hasText: what }).filter({ hasText: new RegExp(`${answer}$`) });
  await auditRow('e2e-operator', 'start a backup POST /api/backup', '202').first().waitFor({ timeout: WAIT_MS });
  await auditRow('e2e-viewer', 'start a backup POST /api/backup', '403').first().waitFor({ timeout: WAIT_MS });
  const auditRows = await auditPanel.getByTestId('audit-entry').count();
  check(auditRows >= 2, `audit rows on the admin's page: ${auditRows}`);
  const adminHtml = await admin.p.content();
  for (const [role, key] of Object.entries(roleKeys)) check(!adminHtml.includes(key), `the ${role} key is on the page`);
  check(!adminHtml.includes(adminDigest), 'the admin key\'s SHA-256 is on the page');
  await screenshot(admin.p, 'role-admin', `an admin key: every action, the restore panel, the schedule form and the audit panel (${auditRows} rows: the operator's backup, the viewer's refused one)`);
  check(admin.errors.length === 0, `errors in the page: ${admin.errors.join('; ')}`);
  await admin.ctx.close();
}

async function cleanup(state) {
  const problems = [];
  const attempt = async (what, fn) => {
    try {
      await fn();
    } catch (error) {
      problems.push(`${what}: ${error.message}`);
    }
  };
  if (state.browser) await attempt('closing Chromium', () => state.browser.close());
  if (state.server) await attempt('stopping the server', () => state.server.stop());
  if (state.dropDatabase) {
    await attempt('dropping the database', async () => {
      state.dropDatabase();
      log('database dropped');
    });
  }
  if (state.tmp && !process.env.BACKUPD_E2E_KEEP) {
    await attempt('removing the temp dir', () => fs.rmSync(state.tmp, { recursive: true, force: true }));
  } else if (state.tmp) {
    log(`kept ${state.tmp}`);
  }
  for (const p of problems) console.error(`[e2e] cleanup: ${p}`);
}

const state = {};
let cleaning = null;
const cleanOnce = () => (cleaning ??= cleanup(state));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: cleaning up`);
    cleanOnce().finally(() => process.exit(130));
  });
}

let exitCode = 0;
try {
  await main(state);
  log(`PASS — ${shots.length} screenshots in ${path.relative(ROOT, SHOTS)}/`);
  for (const s of shots) console.log(`  ${s.file}: ${s.what}`);
} catch (error) {
  exitCode = 1;
  console.error(`\n[e2e] FAIL: ${error instanceof CheckFailed ? error.message : error.stack || error}`);
  if (state.page && !state.page.isClosed()) {
    try {
      await state.page.screenshot({ path: path.join(SHOTS, 'FAILED.png'), fullPage: true });
      console.error(`[e2e] the page at the failure: ${path.relative(ROOT, path.join(SHOTS, 'FAILED.png'))}`);
    } catch {
      // the browser may be gone
    }
  }
  if (state.server) console.error(`\n[e2e] server log (last lines):\n${state.server.tail()}`);
  if (shots.length) console.error(`[e2e] screenshots so far: ${shots.map((s) => s.file).join(', ')}`);
} finally {
  await cleanOnce();
}
process.exit(exitCode);
