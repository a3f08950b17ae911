-- The audit trail (docs/rest-api.md): one row per state-changing request, download or
-- export (refused ones too), and per CLI restore, delete and prune. Never the key: its name only.
-- Append-only: the API has no way to change or remove a row, and the trigger refuses UPDATE and DELETE.
CREATE TABLE IF NOT EXISTS backupd.audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    key_name   text,                 -- the API key's name, the OS user for the CLI; NULL: no key (none configured or invalid)
    role       text,                 -- the key's role; NULL without a valid key
    source     varchar(8) NOT NULL DEFAULT 'api',
    client     text,                 -- the client's address (API), the host name (CLI)
    method     varchar(16) NOT NULL, -- HTTP method, or CLI
    path       text NOT NULL,        -- the request path, or the CLI command
    action     text NOT NULL,        -- what was asked, in words (api.roles.RULES)
    target_id  text,                 -- the backup, job or drill id the request named
    job_id     text,                 -- the job the request started (restore, backup, drill)
    status     integer NOT NULL,     -- the HTTP status answered (CLI: 0 done, 1 failed)
    CONSTRAINT ck_audit_source CHECK (source IN ('api', 'cli'))
);
CREATE INDEX IF NOT EXISTS idx_audit_log_at ON backupd.audit_log (at);

CREATE OR REPLACE FUNCTION backupd.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'backupd.audit_log is append-only';
END $$;
DROP TRIGGER IF EXISTS audit_log_append_only ON backupd.audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON backupd.audit_log
    FOR EACH ROW EXECUTE FUNCTION backupd.audit_log_append_only();
