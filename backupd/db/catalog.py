"""What the PostgreSQL catalog says about a table set: columns, keys, references, sequences.

Nothing else in backupd knows the application's tables; everything is read from here, so
BACKUPD_TABLES can name any tables of the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter

import psycopg
from psycopg import sql

from ..errors import CatalogError, TableNotFound

JSON_TYPES = frozenset({"json", "jsonb"})


@dataclass(frozen=True)
class Column:
    name: str
    type_sql: str  # format_type(): what a cast or a record definition needs, e.g. "character varying(255)"
    base_type: str  # the type name behind domains and arrays, e.g. "jsonb" for a jsonb[] column
    is_array: bool
    not_null: bool
    generated: bool  # stored generated: exported, never inserted (PostgreSQL recomputes it)
    identity: str  # "" | "a" (ALWAYS) | "d" (BY DEFAULT)

    @property
    def carried_as_text(self) -> bool:
        """json/jsonb values travel as their exact text in a JSON string.

        row_to_json would embed them verbatim, which loses JSON null vs SQL NULL, breaks on raw
        newlines inside json values and lets jsonb reject `\\u0000` on the way back.
        """
        return self.base_type in JSON_TYPES

    def manifest_entry(self) -> dict[str, object]:
        entry: dict[str, object] = {"name": self.name, "type": self.type_sql}
        if self.carried_as_text:
            entry["encoding"] = "text"
        elif self.is_array:
            entry["array_text"] = True  # arrays with lower bounds other than 1 come as text (export_query)
        if self.generated:
            entry["generated"] = True
        return entry


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table_oid: int
    table: str  # display name of the referencing table
    columns: tuple[str, ...]
    ref_table_oid: int
    ref_columns: tuple[str, ...]
    on_delete: str  # pg_constraint.confdeltype: a (no action), r (restrict), c (cascade), n (set null), d (set default)


@dataclass(frozen=True)
class SequenceLink:
    column: str
    sequence: str  # schema-qualified, quoted as regclass text


@dataclass(frozen=True)
class Table:
    oid: int
    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = field(default=())
    sequences: tuple[SequenceLink, ...] = field(default=())
    partitioned: bool = False  # a partitioned parent: its rows live in the partitions

    @property
    def key(self) -> str:
        """The name used in archives and manifests: bare for public tables, schema.table otherwise."""
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"

    @property
    def member_name(self) -> str:
        return f"{self.key}.jsonl"

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def own_rows(self) -> sql.Composable:
        """The table's rows in a FROM, UPDATE or DELETE: ONLY the table itself for a plain table
        (rows of an inheritance child belong to the child), the whole tree of a partitioned one
        (its parent holds no row itself). The archive holds the same rows (backup.query.export_query)."""
        return self.ident if self.partitioned else sql.SQL("ONLY {}").format(self.ident)

    @property
    def insertable_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.generated)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


_RESOLVE = """
SELECT c.oid, n.nspname, c.relname, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass(%s)
"""

_COLUMNS = """
SELECT a.attname,
       format_type(a.atttypid, a.atttypmod),
       COALESCE(bt.typname, et.typname, dt.typname, t.typname) AS base_name,
       (t.typcategory = 'A' OR COALESCE(dt.typcategory, '') = 'A') AS is_array,
       a.attnotnull,
       a.attgenerated <> '' AS generated,
       a.attidentity
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type dt ON dt.oid = NULLIF(t.typbasetype, 0)               -- domain -> its base type
LEFT JOIN pg_type et ON et.oid = NULLIF(COALESCE(dt.typelem, t.typelem), 0)
                    AND COALESCE(dt.typcategory, t.typcategory) = 'A'   -- array -> element type
LEFT JOIN pg_type bt ON bt.oid = NULLIF(et.typbasetype, 0)                -- array of a domain
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_PRIMARY_KEY = """
SELECT a.attname
FROM pg_index i
JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s AND i.indisprimary
ORDER BY k.ord
"""

_FOREIGN_KEYS = """
SELECT con.conname, con.conrelid, con.conrelid::regclass::text, con.confrelid, con.confdeltype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o)
FROM pg_constraint con
WHERE con.contype = 'f' AND {where}
ORDER BY con.conrelid, con.conname
"""

_SEQUENCES = """
SELECT a.attname, d.objid::regclass::text
FROM pg_depend d
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.deptype IN ('a', 'i') AND d.refobjid = %s
ORDER BY a.attnum
"""


def resolve_table(conn: psycopg.Connection, name: str) -> tuple[int, str, str]:
    """(oid, schema, name) of a table named as a user would (schema-qualified or on the search path)."""
    oid, schema, relname, _ = _resolve(conn, name)
    return oid, schema, relname


def _resolve(conn: psycopg.Connection, name: str) -> tuple[int, str, str, str]:
    try:
        row = conn.execute(_RESOLVE, [name]).fetchone()
    except psycopg.errors.InvalidName as exc:
        raise CatalogError(f"invalid table name: {name!r}") from exc
    if row is None:
        raise TableNotFound(f"table not found: {name}")
    oid, schema, relname, relkind = row
    if relkind not in ("r", "p"):
        raise CatalogError(f"not a table: {name}")
    if schema == "backupd" or schema.startswith(("backupd_staging", "backupd_old")):
        raise CatalogError(f"{name} is one of backupd's own tables, never part of a backup or restore")
    return oid, schema, relname, relkind


def _foreign_keys(conn: psycopg.Connection, where: str, params: list[object]) -> list[ForeignKey]:
    rows = conn.execute(_FOREIGN_KEYS.format(where=where), params).fetchall()
    return [
        ForeignKey(
            name=r[0],
            table_oid=r[1],
            table=r[2],
            ref_table_oid=r[3],
            on_delete=r[4],
            columns=tuple(r[5]),
            ref_columns=tuple(r[6]),
        )
        for r in rows
    ]


def describe_table(conn: psycopg.Connection, oid: int, schema: str, name: str, *, partitioned: bool = False) -> Table:
    columns = tuple(
        Column(
            name=r[0], type_sql=r[1], base_type=r[2], is_array=bool(r[3]), not_null=r[4], generated=r[5], identity=r[6]
        )
        for r in conn.execute(_COLUMNS, [oid])
    )
    primary_key = tuple(r[0] for r in conn.execute(_PRIMARY_KEY, [oid]))
    sequences = tuple(SequenceLink(column=r[0], sequence=r[1]) for r in conn.execute(_SEQUENCES, [oid]))
    foreign_keys = tuple(_foreign_keys(conn, "con.conrelid = %s", [oid]))
    return Table(
        oid=oid,
        schema=schema,
        name=name,
        columns=columns,
        primary_key=primary_key,
        foreign_keys=foreign_keys,
        sequences=sequences,
        partitioned=partitioned,
    )


def order_parents_first(tables: list[Table]) -> list[Table]:
    """Tables sorted so that every referenced table of the set comes before its referencing tables."""
    by_oid = {t.oid: t for t in tables}
    graph: dict[int, set[int]] = {t.oid: set() for t in tables}
    for t in tables:
        for fk in t.foreign_keys:
            if fk.ref_table_oid in by_oid and fk.ref_table_oid != t.oid:
                graph[t.oid].add(fk.ref_table_oid)
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = " -> ".join(by_oid[o].key for o in exc.args[1])
        raise CatalogError(f"foreign keys form a cycle between tables: {cycle}") from exc
    ordered: list[Table] = []
    # Deterministic: among ready tables, keep the user's order.
    position = {t.oid: i for i, t in enumerate(tables)}
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        ordered.extend(by_oid[o] for o in ready)
        sorter.done(*ready)
    return ordered


def describe_tables(conn: psycopg.Connection, names: tuple[str, ...] | list[str]) -> list[Table]:
    """Describe a table set, parents first. Raises CatalogError for unknown or duplicate tables."""
    tables: list[Table] = []
    seen: dict[int, str] = {}
    for name in names:
        oid, schema, relname, relkind = _resolve(conn, name)
        if oid in seen:
            raise CatalogError(f"table listed twice: {name} (also as {seen[oid]})")
        seen[oid] = name
        tables.append(describe_table(conn, oid, schema, relname, partitioned=relkind == "p"))
    return order_parents_first(tables)


def outside_references(conn: psycopg.Connection, tables: list[Table]) -> list[ForeignKey]:
    """Foreign keys from tables outside the set that point into it (their rows may depend on the set)."""
    oids = [t.oid for t in tables]
    return _foreign_keys(conn, "con.confrelid = ANY(%s) AND NOT (con.conrelid = ANY(%s))", [oids, oids])
