"""Table definitions carried in the manifest (format 1.1), and their recreation in an empty database.

A restore or drill into a database that lacks the set's tables must rebuild them from the archive
alone (CONTRACT §13). Capture reads the catalog inside the backup's snapshot with search_path set
to pg_catalog, so that every type, expression and reference the server prints is schema-qualified
and means the same thing wherever it is replayed. Recreation replays that text: expressions are
trusted catalog output, identifiers are quoted by psycopg.sql.

What is not carried (triggers, views, policies, grants, …) is listed in NOT_RECREATED; a table the
archive cannot rebuild (partition, inheritance child, typed table) carries the reason instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field

from . import catalog
from .database import first_line
from .errors import RestoreError

NOT_RECREATED = ("triggers", "views", "rules", "row-level security policies", "grants", "owners",
                 "publications", "extended statistics", "column storage, compression and statistics targets",
                 "replica identity", "clustering", "tablespaces", "comments on types and sequences")
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


@dataclass
class Recreated:
    tables: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)
    sequences: list[str] = field(default_factory=list)
    not_recreated: list[str] = field(default_factory=lambda: list(NOT_RECREATED))
    adapted: list[str] = field(default_factory=list)  # what an older target server cannot express


@contextmanager
def _qualified_names(conn: psycopg.Connection) -> Iterator[None]:
    """search_path = pg_catalog inside a savepoint (or a transaction of its own when idle): the
    catalog prints every name qualified, the caller's search_path is back afterwards, and a
    failure leaves the caller's transaction usable."""
    with conn.transaction():
        old = conn.execute("SELECT current_setting('search_path')").fetchone()[0]
        conn.execute("SELECT set_config('search_path', 'pg_catalog', true)")
        yield
        conn.execute("SELECT set_config('search_path', %s, true)", [old])


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


def capture_definitions(conn: psycopg.Connection, tables: list[catalog.Table]
                        ) -> tuple[list[TypeDefinition], dict[str, TableDefinition]]:
    """Definitions of `tables` and of the user-defined types their columns need (dependencies first).

    Runs on the backup's connection inside its REPEATABLE READ transaction, so the definitions
    are those of the snapshot the rows come from; keys of the dict are Table.key.
    """
    types: dict[str, TypeDefinition] = {}
    keys: dict[int, str | None] = {}  # type oid -> its key (None: built in), so each is read once
    with _qualified_names(conn):
        out = {t.key: _capture_table(conn, t, types, keys) for t in tables}
    return list(types.values()), out


def _capture_table(conn: psycopg.Connection, table: catalog.Table, types: dict[str, TypeDefinition],
                   keys: dict[int, str | None]) -> TableDefinition:
    (relkind, unlogged, options, toast_options, partition, typed, child,
     comment) = conn.execute(_TABLE, [table.oid]).fetchone()
    reason = ("it is a partitioned table" if relkind == "p" else "it is a partition" if partition
              else "it is a typed table" if typed else "it inherits from another table" if child else None)
    constraints = [ConstraintDefinition(name=r[0], type=r[1], definition=r[2], comment=r[3], columns=list(r[4]),
                                        ref_schema=r[5], ref_table=r[6], validated=r[7], index_comment=r[8])
                   for r in conn.execute(_CONSTRAINTS, [table.oid])]
    invalid_not_null = {c.columns[0] for c in constraints if c.type == "n" and not c.validated and c.columns}
    identities: dict[str, dict[str, object]] = {}
    sequences: list[SequenceDefinition] = []
    for column, deptype, schema, name, seq_unlogged, *opts in conn.execute(_SEQUENCES, [table.oid]):
        options_ = dict(zip(("data_type", "start", "increment", "min", "max", "cache", "cycle"), opts))
        if deptype == "i":
            identities[column] = dict(options_, sequence_schema=schema, sequence_name=name)
        else:
            sequences.append(SequenceDefinition(schema=schema, name=name, column=column, unlogged=seq_unlogged,
                                                **options_))
    columns = []
    for name, type_, attnotnull, default, identity, generated, col_comment, type_oid, collation in conn.execute(
            _COLUMNS, [table.oid]).fetchall():
        columns.append(ColumnDefinition(
            name=name, type=type_, not_null=attnotnull and name not in invalid_not_null,
            default=None if generated else default, collation=collation, comment=col_comment,
            identity=IdentityDefinition(kind="always" if identity == "a" else "by default", **identities[name])
            if identity and name in identities else None,
            generated=GeneratedDefinition(expression=default, kind="virtual" if generated == "v" else "stored")
            if generated else None,
            user_type=_capture_type(conn, type_oid, types, keys)))
    indexes = [IndexDefinition(name=r[0], definition=r[1], comment=r[2]) for r in conn.execute(_INDEXES, [table.oid])]
    all_options = list(options or []) + [f"toast.{o}" for o in toast_options or []]
    return TableDefinition(schema=table.schema, name=table.name, columns=columns, constraints=constraints,
                           indexes=indexes, sequences=sequences, comment=comment, unlogged=unlogged,
                           options=all_options or None, not_supported=reason)


def _capture_type(conn: psycopg.Connection, oid: int, types: dict[str, TypeDefinition],
                  keys: dict[int, str | None]) -> str | None:
    """Key of the user-defined type behind `oid` (None for built-in types); records it and, first,
    what it needs (a domain's base, an array's element) in `types`."""
    if oid not in keys:
        keys[oid] = _read_type(conn, oid, types, keys)
    return keys[oid]


def _read_type(conn: psycopg.Connection, oid: int, types: dict[str, TypeDefinition],
               keys: dict[int, str | None]) -> str | None:
    (schema, name, typtype, element, base_oid, base_type, not_null, default, collation, labels,
     checks) = conn.execute(_TYPE, [oid]).fetchone()
    if element is not None:
        return _capture_type(conn, element, types, keys)
    if schema in _BUILTIN_SCHEMAS:
        return None
    key = f"{schema}.{name}"
    if typtype == "e":
        found = TypeDefinition(schema=schema, name=name, kind="enum", labels=list(labels))
    elif typtype == "d":
        depends_on = _capture_type(conn, base_oid, types, keys)
        found = TypeDefinition(schema=schema, name=name, kind="domain", base_type=base_type, not_null=not_null,
                               default=default, collation=collation, depends_on=depends_on,
                               checks=[ConstraintDefinition(name=n, type="c", definition=d) for n, d in checks])
    else:
        found = TypeDefinition(schema=schema, name=name, kind="other")
    types[key] = found
    return key


def missing_tables(conn: psycopg.Connection, keys: list[str]) -> list[str]:
    """The keys ("events" = public.events, "app.x") naming no table of the database, in order."""
    present = {r[0] for r in conn.execute("""
        SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')""")}
    return [k for k in keys if k not in present]


# -------------------------------------------------------------------------------------- recreation

_RELATION = """SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = %s AND c.relname = %s"""
_PG18 = 180000  # NOT NULL constraints of their own (named, NOT VALID), NOT ENFORCED, VIRTUAL columns


def recreate_tables(conn: psycopg.Connection, types: list[TypeDefinition],
                    definitions: dict[str, TableDefinition], keys: list[str]) -> Recreated:
    """Create the tables `keys` with what they need, in the caller's open transaction.

    Everything is checked before anything is created, and the work runs in a savepoint: after a
    RestoreError (one line) nothing of it is left; the caller commits or rolls back. Tables are
    created empty: the caller loads the rows and moves the sequences past them. Foreign keys are
    added after every table exists, so the order of `keys` does not matter for them.
    """
    tables = []
    for key in keys:
        definition = definitions.get(key)
        reason = definition.not_supported if definition else "the archive carries no definition of it"
        if reason:
            raise RestoreError(f"cannot recreate {key}: {reason}")
        tables.append((key, definition))
    done, version = Recreated(), conn.info.server_version
    with _qualified_names(conn):
        to_create = _check_target(conn, tables, {t.key: t for t in types}, definitions)
        schemas = [t.schema_ for t in to_create] + [n[0] for _, d in tables for n in _relations(d)]
        for schema in dict.fromkeys(schemas):
            if not _exists(conn, "SELECT 1 FROM pg_namespace WHERE nspname = %s", schema):
                _run(conn, keys[0], sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                done.schemas.append(schema)
        for type_ in to_create:
            _create_type(conn, type_)
            done.types.append(type_.key)
        for key, definition in tables:
            _create_table(conn, key, definition, version)
            done.tables.append(key)
            done.sequences += [f"{schema}.{name}" for schema, name in _relations(definition)[1:]]
            done.adapted += _adaptations(key, definition, version)
        for key, definition in tables:
            for con in definition.constraints:
                if con.type == "f" and _expressible(con, version):
                    _add_constraint(conn, key, definition, con)
    return done


def _relations(table: TableDefinition) -> list[tuple[str, str]]:
    """(schema, name) of the table, then of the sequences it brings (owned, then identity)."""
    return [(table.schema_, table.name)] + [(s.schema_, s.name) for s in table.sequences] + [
        (c.identity.sequence_schema, c.identity.sequence_name) for c in table.columns if c.identity]


def _expressible(con: ConstraintDefinition, version: int) -> bool:
    """Before PostgreSQL 18 there are no NOT NULL constraints of their own (a valid one becomes
    the column's NOT NULL) and no NOT ENFORCED constraints (they constrain nothing: left out)."""
    return version >= _PG18 or not (con.type == "n" or con.definition.endswith(" NOT ENFORCED"))


def _adaptations(key: str, table: TableDefinition, version: int) -> list[str]:
    if version >= _PG18:
        return []
    out = [f"{key}.{c.name}: a virtual generated column, created stored"
           for c in table.columns if c.generated and c.generated.kind == "virtual"]
    return out + [f"{key}: constraint {c.name} ({c.definition}) left out, PostgreSQL {version // 10000} "
                  "cannot express it" for c in table.constraints
                  if not _expressible(c, version) and (c.type != "n" or not c.validated)]


def _run(conn: psycopg.Connection, key: str, statement: sql.Composable) -> None:
    """One statement; a database error becomes the one-line RestoreError users see."""
    try:
        conn.execute(statement)
    except psycopg.Error as exc:
        raise RestoreError(f"cannot recreate {key}: {first_line(exc)}") from exc


def _exists(conn: psycopg.Connection, query: str, *params: object) -> bool:
    return conn.execute(query, list(params)).fetchone() is not None


def _check_target(conn: psycopg.Connection, tables: list[tuple[str, TableDefinition]],
                  types: dict[str, TypeDefinition], archive: dict[str, TableDefinition]) -> list[TypeDefinition]:
    """Refuse what cannot be created (names taken, referenced tables or types missing, types of
    another shape); return the enums and domains to create, dependencies first."""
    creating = {(d.schema_, d.name) for _, d in tables}
    verdicts: dict[str, bool] = {}  # type key -> must be created
    for key, definition in tables:
        for schema, name in _relations(definition):
            if _exists(conn, _RELATION, schema, name):
                raise RestoreError(f"cannot recreate {key}: {schema}.{name} already exists in the database")
        for con in definition.constraints:
            ref = (con.ref_schema, con.ref_table)
            if con.type == "f" and ref not in creating and not _exists(
                    conn, _RELATION + " AND c.relkind IN ('r', 'p')", *ref):
                where = ("not being restored and not in the database" if any(
                    (d.schema_, d.name) == ref for d in archive.values())
                         else "neither in the archive nor in the database")
                raise RestoreError(f"cannot recreate {key}: it references {ref[0]}.{ref[1]}, which is {where}")
        for column in definition.columns:
            type_key = column.user_type
            while type_key is not None and type_key not in verdicts:
                type_ = types.get(type_key)
                if type_ is None:
                    raise RestoreError(f"cannot recreate {key}: column {column.name} has type {type_key}, "
                                       "which the archive does not describe")
                verdicts[type_key] = _check_type(conn, key, column.name, type_)
                type_key = type_.depends_on
    return [t for t in types.values() if verdicts.get(t.key)]


def _check_type(conn: psycopg.Connection, key: str, column: str, type_: TypeDefinition) -> bool:
    """Whether the type must be created; raises when it cannot be, or exists with another shape."""
    row = conn.execute("""
        SELECT t.typtype::text, format_type(t.typbasetype, t.typtypmod),
               ARRAY(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = t.oid ORDER BY enumsortorder)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = %s AND t.typname = %s""",
                       [type_.schema_, type_.name]).fetchone()
    prefix = f"cannot recreate {key}: "
    if row is None:
        if type_.kind == "other":
            raise RestoreError(f"{prefix}column {column} has type {type_.key}, which the archive cannot create; "
                               "create it (or its extension) first")
        return True
    typtype, base, labels = row
    if type_.kind != "other" and typtype != type_.kind[0]:
        raise RestoreError(f"{prefix}type {type_.key} exists in the database but is not "
                           f"{'an' if type_.kind == 'enum' else 'a'} {type_.kind}")
    if type_.kind == "enum" and list(labels) != type_.labels:
        raise RestoreError(f"{prefix}type {type_.key} exists in the database with labels ({', '.join(labels)}), "
                           f"the archive's has labels ({', '.join(type_.labels or [])})")
    if type_.kind == "domain" and base != type_.base_type:
        raise RestoreError(f"{prefix}type {type_.key} exists in the database as a domain over {base}, "
                           f"the archive's is a domain over {type_.base_type}")
    return False


def _create_type(conn: psycopg.Connection, type_: TypeDefinition) -> None:
    name = sql.Identifier(type_.schema_, type_.name)
    if type_.kind == "enum":
        _run(conn, type_.key, sql.SQL("CREATE TYPE {} AS ENUM ({})").format(
            name, sql.SQL(", ").join(map(sql.Literal, type_.labels or []))))
        return
    statement = sql.SQL("CREATE DOMAIN {} AS {}").format(name, sql.SQL(type_.base_type or ""))
    for clause, value in (("COLLATE", type_.collation), ("DEFAULT", type_.default), ("NOT NULL", type_.not_null)):
        if value is not None and value is not False:
            statement += sql.SQL(f" {clause} {'' if value is True else value}")
    _run(conn, type_.key, statement)
    for check in type_.checks or []:  # ALTER keeps NOT VALID, which CREATE DOMAIN would not
        _run(conn, type_.key, sql.SQL("ALTER DOMAIN {} ADD CONSTRAINT {} {}").format(
            name, sql.Identifier(check.name), sql.SQL(check.definition)))


def _sequence_options(options: SequenceOptions, with_type: bool) -> sql.Composable:
    return sql.SQL((f"AS {options.data_type} " if with_type else "")
                   + f"START WITH {options.start} INCREMENT BY {options.increment} MINVALUE {options.min} "
                   f"MAXVALUE {options.max} CACHE {options.cache} {'' if options.cycle else 'NO '}CYCLE")


def _column_sql(column: ColumnDefinition, not_null: ConstraintDefinition | None, version: int) -> sql.Composable:
    """One column of CREATE TABLE. On PostgreSQL 18 a valid NOT NULL constraint keeps its name
    here; a NOT VALID one is added after the table (CREATE TABLE would mark it valid)."""
    parts = [sql.Identifier(column.name), sql.SQL(column.type)]
    if column.collation:
        parts.append(sql.SQL("COLLATE " + column.collation))
    if not_null is not None and not_null.validated and version >= _PG18:
        no_inherit = " NO INHERIT" if not_null.definition.endswith(" NO INHERIT") else ""
        parts.append(sql.SQL("CONSTRAINT {} NOT NULL" + no_inherit).format(sql.Identifier(not_null.name)))
    elif column.not_null:
        parts.append(sql.SQL("NOT NULL"))
    if column.generated:
        kind = "VIRTUAL" if column.generated.kind == "virtual" and version >= _PG18 else "STORED"
        parts.append(sql.SQL(f"GENERATED ALWAYS AS ({column.generated.expression}) {kind}"))
    elif column.identity:
        ident = column.identity  # its sequence takes the column's type: AS would be refused here
        parts.append(sql.SQL("GENERATED {} AS IDENTITY (SEQUENCE NAME {} {})").format(
            sql.SQL(ident.kind.upper()), sql.Identifier(ident.sequence_schema, ident.sequence_name),
            _sequence_options(ident, with_type=False)))
    elif column.default is not None:
        parts.append(sql.SQL("DEFAULT " + column.default))
    return sql.SQL(" ").join(parts)


def _create_table(conn: psycopg.Connection, key: str, table: TableDefinition, version: int) -> None:
    """Owned sequences, the table and their link, keys and checks, indexes and comments."""
    for seq in table.sequences:
        _run(conn, key, sql.SQL("CREATE {}SEQUENCE {} {}").format(
            sql.SQL("UNLOGGED " if seq.unlogged else ""), sql.Identifier(seq.schema_, seq.name),
            _sequence_options(seq, with_type=True)))
    not_nulls = {c.columns[0]: c for c in table.constraints if c.type == "n" and c.columns}
    statement = sql.SQL("CREATE {}TABLE {} ({})").format(
        sql.SQL("UNLOGGED " if table.unlogged else ""), table.ident,
        sql.SQL(", ").join(_column_sql(c, not_nulls.get(c.name), version) for c in table.columns))
    if table.options:
        statement += sql.SQL(" WITH ({})").format(sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(*name.split(".")), sql.Literal(value))
            for name, _, value in (o.partition("=") for o in table.options)))
    _run(conn, key, statement)
    for seq in table.sequences:
        _run(conn, key, sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
            sql.Identifier(seq.schema_, seq.name), sql.Identifier(table.schema_, table.name, seq.column)))
    for column in table.columns:
        ident = column.identity
        if ident and ident.data_type != column.type:  # ALTER SEQUENCE … AS was run on the source
            _run(conn, key, sql.SQL(f"ALTER SEQUENCE {{}} AS {ident.data_type} MINVALUE {ident.min} "
                                    f"MAXVALUE {ident.max}").format(
                sql.Identifier(ident.sequence_schema, ident.sequence_name)))
        if column.comment is not None:
            _run(conn, key, sql.SQL("COMMENT ON COLUMN {} IS {}").format(
                sql.Identifier(table.schema_, table.name, column.name), sql.Literal(column.comment)))
    for con in table.constraints:  # a valid NOT NULL constraint was created with its column
        if (con.type in "puxc" or con.type == "n" and not con.validated) and _expressible(con, version):
            _add_constraint(conn, key, table, con)
        elif con.type == "n" and version >= _PG18:
            _comment(conn, key, sql.SQL("CONSTRAINT {} ON {}").format(sql.Identifier(con.name), table.ident),
                     con.comment)
    for index in table.indexes:
        _run(conn, key, sql.SQL(index.definition))
        _comment(conn, key, sql.SQL("INDEX {}").format(sql.Identifier(table.schema_, index.name)), index.comment)
    _comment(conn, key, sql.SQL("TABLE {}").format(table.ident), table.comment)


def _add_constraint(conn: psycopg.Connection, key: str, table: TableDefinition, con: ConstraintDefinition) -> None:
    _run(conn, key, sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
        table.ident, sql.Identifier(con.name), sql.SQL(con.definition)))
    _comment(conn, key, sql.SQL("CONSTRAINT {} ON {}").format(sql.Identifier(con.name), table.ident), con.comment)
    _comment(conn, key, sql.SQL("INDEX {}").format(sql.Identifier(table.schema_, con.name)), con.index_comment)


def _comment(conn: psycopg.Connection, key: str, target: sql.Composable, comment: str | None) -> None:
    if comment is not None:
        _run(conn, key, sql.SQL("COMMENT ON {} IS {}").format(target, sql.Literal(comment)))
