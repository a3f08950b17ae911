"""The audit trail (docs/rest-api.md): who changed, restored, downloaded or exported what, and the answer.

Rows live in `backupd.audit_log` (sql/0002_audit.sql), written by the API's audit middleware
(api.audit) and by the CLI's restore, delete and prune; read by GET /api/audit. Append-only.
"""

from __future__ import annotations

from .records import AuditEntry, AuditRecords, audited_command, cli_user, record_cli

__all__ = ["AuditEntry", "AuditRecords", "audited_command", "cli_user", "record_cli"]
