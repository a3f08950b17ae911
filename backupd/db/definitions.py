"""Table definitions carried in the manifest (format 1.1), and their capture from the catalog.

A restore or drill into a database that lacks the set's tables must rebuild them from the archive
alone (docs/restore-guarantees.md). Capture reads the catalog inside the backup's snapshot with
search_path set to pg_catalog, so that every type, expression and reference the server prints is
schema-qualified and means the same thing wherever it is replayed (`recreate.py` replays it).
A table the archive cannot rebuild (partition, inheritance child, typed table) carries the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field

from . import catalog as catalog
from .connection import one_row

_BUILTIN_SCHEMAS = ("pg_catalog", "information_schema")


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class ConstraintDefinition(_Model):
    name: str
    type: Literal["p", "u", "c", "f", "x", "n"]
    definition: str  # pg_get_constraintdef, verbatim (NOT VALID, DEFERRABLE, NOT ENFORCED, NO INHERIT …)
    comment: str | None = None
    columns: list[str] | None = None  # the constrained columns (for "n": the one column)
    ref_schema: str | None = None  # "f": the referenced table
    ref_table: str | None = None
    validated: bool = True
    index_comment: str | None = None  # p/u/x: the comment of the index behind it (named as the constraint)


class SequenceOptions(_Model):
    data_type: str  # format_type of the sequence's AS type
    start: int
    increment: int
    min: int
    max: int
    cache: int
    cycle: bool


class IdentityDefinition(SequenceOptions):
    kind: Literal["always", "by default"]
    sequence_schema: str
    sequence_name: str


class SequenceDefinition(SequenceOptions):
    """A sequence OWNED BY a column (serial); its current value is the restore's business."""

    schema_: str = Field(alias="schema")
    name: str
    column: str
    unlogged: bool = False


class GeneratedDefinition(_Model):
    expression: str
    kind: Literal["stored", "virtual"]


class ColumnDefinition(_Model):
    name: str
    type: str  # format_type, schema-qualified
    not_null: bool  # a valid NOT NULL (PostgreSQL 18's NOT VALID ones are only in `constraints`)
    default: str | None = None
    collation: str | None = None  # qualified, quoted: only when not the type's default
    identity: IdentityDefinition | None = None
    generated: GeneratedDefinition | None = None
    comment: str | None = None
    user_type: str | None = None  # TypeDefinition.key of the user-defined type behind it (arrays unwrapped)


class TypeDefinition(_Model):
    schema_: str = Field(alias="schema")
    name: str
    kind: Literal["enum", "domain", "other"]  # other: composite, range, extension type …: must exist
    labels: list[str] | None = None
    base_type: str | None = None
    not_null: bool | None = None
    default: str | None = None
    checks: list[ConstraintDefinition] | None = None
    collation: str | None = None
    depends_on: str | None = None  # domain: key of the user-defined type behind its base

    @property
    def key(self) -> str:
        return f"{self.schema_}.{self.name}"


class IndexDefinition(_Model):
    name: str
    definition: str  # pg_get_indexdef
    comment: str | None = None


class TableDefinition(_Model):
    schema_: str = Field(alias="schema")
    name: str
    columns: list[ColumnDefinition]
    constraints: list[ConstraintDefinition]
    indexes: list[IndexDefinition]
    sequences: list[SequenceDefinition]
    comment: str | None = None
    unlogged: bool = False
    options: list[str] | None = None  # reloptions, the TOAST table's prefixed "toast."
    not_supported: str | None = None

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema_, self.name)


@contextmanager
def qualified_names(conn: psycopg.Connection) -> Iterator[None]:
    """search_path = pg_catalog inside a savepoint (or a transaction of its own when idle): the
    catalog prints every name qualified, the caller's search_path is back afterwards, and a
    failure leaves the caller's transaction usable.

    JIT is off meanwhile: the backup's transaction turns enable_sort off, which makes these small
    catalog queries look costly enough to be JIT-compiled (1.5 s instead of 0.6 ms each, measured
    on PostgreSQL 15)."""
    with conn.transaction():
        old, old_jit = one_row(conn.execute("SELECT current_setting('search_path'), current_setting('jit')"))
        conn.execute("SELECT set_config('search_path', 'pg_catalog', true), set_config('jit', 'off', true)")
        yield
        conn.execute("SELECT set_config('search_path', %s, true), set_config('jit', %s, true)", [old, old_jit])


# ----------------------------------------------------------------------------------------- capture

_TABLE = """
SELECT c.relkind, c.relpersistence = 'u', c.reloptions, t.reloptions, c.relispartition, c.reloftype <> 0,
       EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid), obj_description(c.oid, 'pg_class')
FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = %s"""
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
       a.attidentity, a.attgenerated::text, col_description(a.attrelid, a.attnum), a.atttypid,
       CASE WHEN a.attcollation <> t.typcollation THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"""
_SEQUENCES = """
SELECT a.attname, d.deptype, n.nspname, s.relname, s.relpersistence = 'u', format_type(q.seqtypid, NULL),
       q.seqstart, q.seqincrement, q.seqmin, q.seqmax, q.seqcache, q.seqcycle
FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace n ON n.oid = s.relnamespace
JOIN pg_sequence q ON q.seqrelid = s.oid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.deptype IN ('a', 'i') AND d.refobjid = %s ORDER BY a.attnum, s.relname"""
_CONSTRAINTS = """
SELECT con.conname, con.contype::text, pg_get_constraintdef(con.oid), obj_description(con.oid, 'pg_constraint'),
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
       rn.nspname, rc.relname, con.convalidated,
       CASE WHEN con.contype IN ('p', 'u', 'x') THEN obj_description(con.conindid, 'pg_class') END
FROM pg_constraint con
LEFT JOIN pg_class rc ON rc.oid = con.confrelid LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.conrelid = %s AND con.contype IN ('n', 'p', 'u', 'x', 'c', 'f') AND con.conparentid = 0
ORDER BY position(con.contype IN 'npuxcf'), con.conname"""
_INDEXES = """
SELECT ic.relname, pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class')
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = %s AND i.indisvalid AND NOT EXISTS (
    SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                                    AND c.contype IN ('p', 'u', 'x'))
ORDER BY ic.relname"""
_TYPE = """
SELECT n.nspname, t.typname, t.typtype::text, e.oid, t.typbasetype, format_type(t.typbasetype, t.typtypmod),
       t.typnotnull, pg_get_expr(t.typdefaultbin, 0),
       CASE WHEN t.typcollation <> COALESCE(b.typcollation, 0)
            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
       ARRAY(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = t.oid ORDER BY enumsortorder),
       ARRAY(SELECT ARRAY[conname::text, pg_get_constraintdef(oid)] FROM pg_constraint
             WHERE contypid = t.oid AND contype = 'c' ORDER BY conname)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_type e ON e.typarray = t.oid LEFT JOIN pg_type b ON b.oid = t.typbasetype
LEFT JOIN pg_collation co ON co.oid = t.typcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
WHERE t.oid = %s"""


def capture_definitions(
    conn: psycopg.Connection, tables: list[catalog.Table]
) -> tuple[list[TypeDefinition], dict[str, TableDefinition]]:
    """Definitions of `tables` and of the user-defined types their columns need (dependencies first).

    Runs on the backup's connection inside its REPEATABLE READ transaction, so the definitions
    are those of the snapshot the rows come from; keys of the dict are Table.key.
    """
    types: dict[str, TypeDefinition] = {}
    keys: dict[int, str | None] = {}  # type oid -> its key (None: built in), so each is read once
    with qualified_names(conn):
        out = {t.key: _capture_table(conn, t, types, keys) for t in tables}
    return list(types.values()), out


def _capture_table(
    conn: psycopg.Connection, table: catalog.Table, types: dict[str, TypeDefinition], keys: dict[int, str | None]
) -> TableDefinition:
    (relkind, unlogged, options, toast_options, partition, typed, child, comment) = one_row(
        conn.execute(_TABLE, [table.oid])
    )
    reason = (
        "it is a partitioned table"
        if relkind == "p"
        else "it is a partition"
        if partition
        else "it is a typed table"
        if typed
        else "it inherits from another table"
        if child
        else None
    )
    constraints = [
        ConstraintDefinition(
            name=r[0],
            type=r[1],
            definition=r[2],
            comment=r[3],
            columns=list(r[4]),
            ref_schema=r[5],
            ref_table=r[6],
            validated=r[7],
            index_comment=r[8],
        )
        for r in conn.execute(_CONSTRAINTS, [table.oid])
    ]
    invalid_not_null = {c.columns[0] for c in constraints if c.type == "n" and not c.validated and c.columns}
    identities: dict[str, dict[str, Any]] = {}  # column -> IdentityDefinition fields, as read
    sequences: list[SequenceDefinition] = []
    for column, deptype, schema, name, seq_unlogged, *opts in conn.execute(_SEQUENCES, [table.oid]):
        options_ = dict(zip(("data_type", "start", "increment", "min", "max", "cache", "cycle"), opts, strict=True))
        if deptype == "i":
            identities[column] = dict(options_, sequence_schema=schema, sequence_name=name)
        else:
            sequences.append(
                SequenceDefinition(schema=schema, name=name, column=column, unlogged=seq_unlogged, **options_)
            )
    columns = []
    for name, type_, attnotnull, default, identity, generated, col_comment, type_oid, collation in conn.execute(
        _COLUMNS, [table.oid]
    ).fetchall():
        columns.append(
            ColumnDefinition(
                name=name,
                type=type_,
                not_null=attnotnull and name not in invalid_not_null,
                default=None if generated else default,
                collation=collation,
                comment=col_comment,
                identity=IdentityDefinition(kind="always" if identity == "a" else "by default", **identities[name])
                if identity and name in identities
                else None,
                generated=GeneratedDefinition(expression=default, kind="virtual" if generated == "v" else "stored")
                if generated
                else None,
                user_type=_capture_type(conn, type_oid, types, keys),
            )
        )
    indexes = [IndexDefinition(name=r[0], definition=r[1], comment=r[2]) for r in conn.execute(_INDEXES, [table.oid])]
    all_options = list(options or []) + [f"toast.{o}" for o in toast_options or []]
    return TableDefinition(
        schema=table.schema,
        name=table.name,
        columns=columns,
        constraints=constraints,
        indexes=indexes,
        sequences=sequences,
        comment=comment,
        unlogged=unlogged,
        options=all_options or None,
        not_supported=reason,
    )


def _capture_type(
    conn: psycopg.Connection, oid: int, types: dict[str, TypeDefinition], keys: dict[int, str | None]
) -> str | None:
    """Key of the user-defined type behind `oid` (None for built-in types); records it and, first,
    what it needs (a domain's base, an array's element) in `types`."""
    if oid not in keys:
        keys[oid] = _read_type(conn, oid, types, keys)
    return keys[oid]


def _read_type(
    conn: psycopg.Connection, oid: int, types: dict[str, TypeDefinition], keys: dict[int, str | None]
) -> str | None:
    (schema, name, typtype, element, base_oid, base_type, not_null, default, collation, labels, checks) = one_row(
        conn.execute(_TYPE, [oid])
    )
    if element is not None:
        return _capture_type(conn, element, types, keys)
    if schema in _BUILTIN_SCHEMAS:
        return None
    key = f"{schema}.{name}"
    if typtype == "e":
        found = TypeDefinition(schema=schema, name=name, kind="enum", labels=list(labels))
    elif typtype == "d":
        depends_on = _capture_type(conn, base_oid, types, keys)
        found = TypeDefinition(
            schema=schema,
            name=name,
            kind="domain",
            base_type=base_type,
            not_null=not_null,
            default=default,
            collation=collation,
            depends_on=depends_on,
            checks=[ConstraintDefinition(name=n, type="c", definition=d) for n, d in checks],
        )
    else:
        found = TypeDefinition(schema=schema, name=name, kind="other")
    types[key] = found
    return key


def missing_tables(conn: psycopg.Connection, keys: list[str]) -> list[str]:
    """The keys ("events" = public.events, "app.x") naming no table of the database, in order."""
    present = {
        r[0]
        for r in conn.execute("""
        SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')""")
    }
    return [k for k in keys if k not in present]
