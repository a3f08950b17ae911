"""Recreating the tables of an archive in a database that lacks them (format 1.1).

The manifest carries each table's definition as the source printed it, every name schema-qualified
(`definitions.py`); this replays it in the caller's transaction: schemas, enum and domain types,
owned sequences, tables, then constraints, foreign keys, indexes and comments. All checks run
before anything is created, so a refusal is one line and leaves nothing behind. What an archive
never carries is listed in NOT_RECREATED, and said to the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..errors import RestoreError
from . import catalog as catalog
from .connection import first_line
from .definitions import (
    ColumnDefinition,
    ConstraintDefinition,
    SequenceOptions,
    TableDefinition,
    TypeDefinition,
    qualified_names,
)

NOT_RECREATED = (
    "triggers",
    "views",
    "rules",
    "row-level security policies",
    "grants",
    "owners",
    "publications",
    "extended statistics",
    "column storage, compression and statistics targets",
    "replica identity",
    "clustering",
    "tablespaces",
    "comments on types and sequences",
)


@dataclass
class Recreated:
    tables: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)
    sequences: list[str] = field(default_factory=list)
    not_recreated: list[str] = field(default_factory=lambda: list(NOT_RECREATED))
    adapted: list[str] = field(default_factory=list)  # what an older target server cannot express


_RELATION = """SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = %s AND c.relname = %s"""
_PG18 = 180000  # NOT NULL constraints of their own (named, NOT VALID), NOT ENFORCED, VIRTUAL columns


def recreate_tables(
    conn: psycopg.Connection, types: list[TypeDefinition], definitions: dict[str, TableDefinition], keys: list[str]
) -> Recreated:
    """Create the tables `keys` with what they need, in the caller's open transaction.

    Everything is checked before anything is created, and the work runs in a savepoint: after a
    RestoreError (one line) nothing of it is left; the caller commits or rolls back. Tables are
    created empty: the caller loads the rows and moves the sequences past them. Foreign keys are
    added after every table exists, so the order of `keys` does not matter for them.
    """
    tables: list[tuple[str, TableDefinition]] = []
    for key in keys:
        definition = definitions.get(key)
        reason = definition.not_supported if definition else "the archive carries no definition of it"
        if reason or definition is None:
            raise RestoreError(f"cannot recreate {key}: {reason}")
        tables.append((key, definition))
    done, version = Recreated(), conn.info.server_version
    with qualified_names(conn):
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
    return (
        [(table.schema_, table.name)]
        + [(s.schema_, s.name) for s in table.sequences]
        + [(c.identity.sequence_schema, c.identity.sequence_name) for c in table.columns if c.identity]
    )


def _expressible(con: ConstraintDefinition, version: int) -> bool:
    """Before PostgreSQL 18 there are no NOT NULL constraints of their own (a valid one becomes
    the column's NOT NULL) and no NOT ENFORCED constraints (they constrain nothing: left out)."""
    return version >= _PG18 or not (con.type == "n" or con.definition.endswith(" NOT ENFORCED"))


def _adaptations(key: str, table: TableDefinition, version: int) -> list[str]:
    if version >= _PG18:
        return []
    out = [
        f"{key}.{c.name}: a virtual generated column, created stored"
        for c in table.columns
        if c.generated and c.generated.kind == "virtual"
    ]
    return out + [
        f"{key}: constraint {c.name} ({c.definition}) left out, PostgreSQL {version // 10000} cannot express it"
        for c in table.constraints
        if not _expressible(c, version) and (c.type != "n" or not c.validated)
    ]


def _run(conn: psycopg.Connection, key: str, statement: sql.SQL | sql.Composed) -> None:
    """One statement; a database error becomes the one-line RestoreError users see."""
    try:
        conn.execute(statement)
    except psycopg.Error as exc:
        raise RestoreError(f"cannot recreate {key}: {first_line(exc)}") from exc


def _exists(conn: psycopg.Connection, query: str, *params: object) -> bool:
    return conn.execute(query, list(params)).fetchone() is not None


def _check_target(
    conn: psycopg.Connection,
    tables: list[tuple[str, TableDefinition]],
    types: dict[str, TypeDefinition],
    archive: dict[str, TableDefinition],
) -> list[TypeDefinition]:
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
            if (
                con.type == "f"
                and ref not in creating
                and not _exists(conn, _RELATION + " AND c.relkind IN ('r', 'p')", *ref)
            ):
                where = (
                    "not being restored and not in the database"
                    if any((d.schema_, d.name) == ref for d in archive.values())
                    else "neither in the archive nor in the database"
                )
                raise RestoreError(f"cannot recreate {key}: it references {ref[0]}.{ref[1]}, which is {where}")
        for column in definition.columns:
            type_key = column.user_type
            while type_key is not None and type_key not in verdicts:
                type_ = types.get(type_key)
                if type_ is None:
                    raise RestoreError(
                        f"cannot recreate {key}: column {column.name} has type {type_key}, "
                        "which the archive does not describe"
                    )
                verdicts[type_key] = _check_type(conn, key, column.name, type_)
                type_key = type_.depends_on
    return [t for t in types.values() if verdicts.get(t.key)]


def _check_type(conn: psycopg.Connection, key: str, column: str, type_: TypeDefinition) -> bool:
    """Whether the type must be created; raises when it cannot be, or exists with another shape."""
    row = conn.execute(
        """
        SELECT t.typtype::text, format_type(t.typbasetype, t.typtypmod),
               ARRAY(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = t.oid ORDER BY enumsortorder)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = %s AND t.typname = %s""",
        [type_.schema_, type_.name],
    ).fetchone()
    prefix = f"cannot recreate {key}: "
    if row is None:
        if type_.kind == "other":
            raise RestoreError(
                f"{prefix}column {column} has type {type_.key}, which the archive cannot create; "
                "create it (or its extension) first"
            )
        return True
    typtype, base, labels = row
    if type_.kind != "other" and typtype != type_.kind[0]:
        raise RestoreError(
            f"{prefix}type {type_.key} exists in the database but is not "
            f"{'an' if type_.kind == 'enum' else 'a'} {type_.kind}"
        )
    if type_.kind == "enum" and list(labels) != type_.labels:
        raise RestoreError(
            f"{prefix}type {type_.key} exists in the database with labels ({', '.join(labels)}), "
            f"the archive's has labels ({', '.join(type_.labels or [])})"
        )
    if type_.kind == "domain" and base != type_.base_type:
        raise RestoreError(
            f"{prefix}type {type_.key} exists in the database as a domain over {base}, "
            f"the archive's is a domain over {type_.base_type}"
        )
    return False


def _create_type(conn: psycopg.Connection, type_: TypeDefinition) -> None:
    name = sql.Identifier(type_.schema_, type_.name)
    if type_.kind == "enum":
        _run(
            conn,
            type_.key,
            sql.SQL("CREATE TYPE {} AS ENUM ({})").format(
                name, sql.SQL(", ").join(map(sql.Literal, type_.labels or []))
            ),
        )
        return
    statement = sql.SQL("CREATE DOMAIN {} AS {}").format(name, sql.SQL(type_.base_type or ""))
    for clause, value in (("COLLATE", type_.collation), ("DEFAULT", type_.default), ("NOT NULL", type_.not_null)):
        if value is not None and value is not False:
            statement += sql.SQL(f" {clause} {'' if value is True else value}")
    _run(conn, type_.key, statement)
    for check in type_.checks or []:  # ALTER keeps NOT VALID, which CREATE DOMAIN would not
        _run(
            conn,
            type_.key,
            sql.SQL("ALTER DOMAIN {} ADD CONSTRAINT {} {}").format(
                name, sql.Identifier(check.name), sql.SQL(check.definition)
            ),
        )


def _sequence_options(options: SequenceOptions, with_type: bool) -> sql.Composable:
    return sql.SQL(
        (f"AS {options.data_type} " if with_type else "")
        + f"START WITH {options.start} INCREMENT BY {options.increment} MINVALUE {options.min} "
        f"MAXVALUE {options.max} CACHE {options.cache} {'' if options.cycle else 'NO '}CYCLE"
    )


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
        parts.append(
            sql.SQL("GENERATED {} AS IDENTITY (SEQUENCE NAME {} {})").format(
                sql.SQL(ident.kind.upper()),
                sql.Identifier(ident.sequence_schema, ident.sequence_name),
                _sequence_options(ident, with_type=False),
            )
        )
    elif column.default is not None:
        parts.append(sql.SQL("DEFAULT " + column.default))
    return sql.SQL(" ").join(parts)


def _create_table(conn: psycopg.Connection, key: str, table: TableDefinition, version: int) -> None:
    """Owned sequences, the table and their link, keys and checks, indexes and comments."""
    for seq in table.sequences:
        _run(
            conn,
            key,
            sql.SQL("CREATE {}SEQUENCE {} {}").format(
                sql.SQL("UNLOGGED " if seq.unlogged else ""),
                sql.Identifier(seq.schema_, seq.name),
                _sequence_options(seq, with_type=True),
            ),
        )
    not_nulls = {c.columns[0]: c for c in table.constraints if c.type == "n" and c.columns}
    statement = sql.SQL("CREATE {}TABLE {} ({})").format(
        sql.SQL("UNLOGGED " if table.unlogged else ""),
        table.ident,
        sql.SQL(", ").join(_column_sql(c, not_nulls.get(c.name), version) for c in table.columns),
    )
    if table.options:
        statement += sql.SQL(" WITH ({})").format(
            sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(*name.split(".")), sql.Literal(value))
                for name, _, value in (o.partition("=") for o in table.options)
            )
        )
    _run(conn, key, statement)
    for seq in table.sequences:
        _run(
            conn,
            key,
            sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
                sql.Identifier(seq.schema_, seq.name), sql.Identifier(table.schema_, table.name, seq.column)
            ),
        )
    for column in table.columns:
        ident = column.identity
        if ident and ident.data_type != column.type:  # ALTER SEQUENCE … AS was run on the source
            _run(
                conn,
                key,
                sql.SQL(f"ALTER SEQUENCE {{}} AS {ident.data_type} MINVALUE {ident.min} MAXVALUE {ident.max}").format(
                    sql.Identifier(ident.sequence_schema, ident.sequence_name)
                ),
            )
        if column.comment is not None:
            _run(
                conn,
                key,
                sql.SQL("COMMENT ON COLUMN {} IS {}").format(
                    sql.Identifier(table.schema_, table.name, column.name), sql.Literal(column.comment)
                ),
            )
    for con in table.constraints:  # a valid NOT NULL constraint was created with its column
        if (con.type in "puxc" or (con.type == "n" and not con.validated)) and _expressible(con, version):
            _add_constraint(conn, key, table, con)
        elif con.type == "n" and version >= _PG18:
            _comment(
                conn, key, sql.SQL("CONSTRAINT {} ON {}").format(sql.Identifier(con.name), table.ident), con.comment
            )
    for index in table.indexes:
        _run(conn, key, sql.SQL(index.definition))
        _comment(conn, key, sql.SQL("INDEX {}").format(sql.Identifier(table.schema_, index.name)), index.comment)
    _comment(conn, key, sql.SQL("TABLE {}").format(table.ident), table.comment)


def _add_constraint(conn: psycopg.Connection, key: str, table: TableDefinition, con: ConstraintDefinition) -> None:
    _run(
        conn,
        key,
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            table.ident, sql.Identifier(con.name), sql.SQL(con.definition)
        ),
    )
    _comment(conn, key, sql.SQL("CONSTRAINT {} ON {}").format(sql.Identifier(con.name), table.ident), con.comment)
    _comment(conn, key, sql.SQL("INDEX {}").format(sql.Identifier(table.schema_, con.name)), con.index_comment)


def _comment(conn: psycopg.Connection, key: str, target: sql.Composable, comment: str | None) -> None:
    if comment is not None:
        _run(conn, key, sql.SQL("COMMENT ON {} IS {}").format(target, sql.Literal(comment)))
