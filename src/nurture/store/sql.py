"""Statements that differ between SQLite and PostgreSQL, written once."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import JSON, ColumnElement, Connection, Dialect, Table, any_, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, UpdateBase
from sqlalchemy.types import TypeEngine

S = TypeVar("S")


class PerDialect(Generic[S]):
    """A statement built once per dialect and reused: building a Core statement (and its cache key)
    costs more than running a small one, so hot paths pass values as bound parameters instead."""

    def __init__(self, build: Callable[[str], S]) -> None:
        self._build = build
        self._built: dict[str, S] = {}

    def __call__(self, conn: Connection) -> S:
        name = conn.dialect.name
        statement = self._built.get(name)
        if statement is None:
            statement = self._built[name] = self._build(name)
        return statement


class _DriverStatement:
    """A statement compiled for one dialect, with positional parameters and each one's conversion
    (the column type's own bind processor: JSON encoding, UTC times) applied by hand."""

    def __init__(self, compiled: SQLCompiler, dialect: Dialect) -> None:
        sql = str(compiled)
        positions = getattr(compiled, "positiontup", None)
        if positions:  # qmark (sqlite3)
            names = list(positions)
        else:  # pyformat (psycopg): %(name)s becomes %s, which spares the driver a reorder per row
            names = _PYFORMAT.findall(sql)
            sql = _PYFORMAT.sub("%s", sql)
        self.sql = sql
        self.names = names
        self.convert = [_converter(compiled.binds[name].type, dialect) for name in names]

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            row[name] if convert is None else convert(row[name])
            for name, convert in zip(self.names, self.convert, strict=True)
        )


_PYFORMAT = re.compile(r"%\((\w+)\)s")


def _converter(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    impl = type_.dialect_impl(dialect)
    if dialect.name == "postgresql" and isinstance(impl, JSON):
        # JSON text for the statement's `::JSONB` cast, instead of a psycopg Jsonb wrapper per value;
        # PostgreSQL stores the same document either way
        serialize: Callable[[Any], str] = dialect._json_serializer or json.dumps
        return serialize
    return impl.bind_processor(dialect)


_driver_statements: dict[tuple[str, UpdateBase, tuple[str, ...]], _DriverStatement] = {}


def execute_many(conn: Connection, statement: UpdateBase, rows: Sequence[Mapping[str, Any]]) -> int:
    """Run `statement` once per row through the driver's executemany; returns the rows affected.

    Values are converted exactly as `conn.execute(statement, rows)` would convert them, without
    SQLAlchemy's generic per-row parameter handling, which on bulk writes costs more than the
    database spends on each row.
    """
    if not rows:
        return 0
    keys = tuple(rows[0])
    cache_key = (conn.dialect.name, statement, keys)
    driver = _driver_statements.get(cache_key)
    if driver is None:
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys))
        assert isinstance(compiled, SQLCompiler)
        driver = _driver_statements[cache_key] = _DriverStatement(compiled, conn.dialect)
    result = conn.exec_driver_sql(driver.sql, [driver.parameters(row) for row in rows])
    return int(result.rowcount) if result.rowcount is not None and result.rowcount >= 0 else len(rows)


class _CopyStatement:
    """`COPY table (columns) FROM STDIN` with each column's conversion, as `execute_many` does it."""

    def __init__(self, table: Table, columns: tuple[str, ...], dialect: Dialect) -> None:
        names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
        self.sql = f"COPY {dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
        self.columns = columns
        self.convert = [_converter(table.c[name].type, dialect) for name in columns]


_copy_statements: dict[tuple[Table, tuple[str, ...]], _CopyStatement] = {}


def copy_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert `rows` (all with the same keys) in the caller's transaction; returns how many. On
    PostgreSQL by COPY, which costs both sides less per row than a pipelined INSERT but knows no ON
    CONFLICT: a row that breaks a unique constraint fails the whole transaction. Elsewhere an INSERT
    through `execute_many`."""
    if not rows:
        return 0
    if conn.dialect.name != "postgresql":
        return execute_many(conn, table.insert(), rows)
    columns = tuple(rows[0])
    statement = _copy_statements.get((table, columns))
    if statement is None:
        statement = _copy_statements[(table, columns)] = _CopyStatement(table, columns, conn.dialect)
    pairs = list(zip(statement.columns, statement.convert, strict=True))
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement.sql) as copy:
        for row in rows:
            copy.write_row([row[name] if convert is None else convert(row[name]) for name, convert in pairs])
    return len(rows)


class _RecordsStatement:
    """A statement that reads its rows from one JSON parameter, `jsonb_to_recordset` (PostgreSQL):
    one statement, parsed and planned once, for a whole batch instead of one per row, and the rows
    serialised by orjson in one call instead of one parameter at a time."""

    def __init__(
        self, table: Table, columns: tuple[str, ...], keys: tuple[str, ...], dialect: Dialect
    ) -> None:
        quote = dialect.identifier_preparer.quote
        target = dialect.identifier_preparer.format_table(table)
        types = ", ".join(
            f"{quote(n)} {table.c[n].type.dialect_impl(dialect).compile(dialect=dialect)}" for n in columns
        )
        source = f"jsonb_to_recordset(CAST(%s AS JSONB)) AS v({types})"
        if not keys:
            names = ", ".join(quote(n) for n in columns)
            # identifiers from the schema, quoted; values travel as the parameter
            self.sql = f"INSERT INTO {target} ({names}) SELECT {names} FROM {source} ON CONFLICT DO NOTHING"  # noqa: S608
        else:
            sets = ", ".join(f"{quote(n)} = v.{quote(n)}" for n in columns if n not in keys)
            match = " AND ".join(f"{target}.{quote(n)} = v.{quote(n)}" for n in keys)
            self.sql = f"UPDATE {target} SET {sets} FROM {source} WHERE {match}"  # noqa: S608

    @staticmethod
    def parameters(rows: Sequence[Mapping[str, Any]]) -> tuple[str]:
        try:
            document = orjson.dumps(list(rows), default=_json_time, option=orjson.OPT_PASSTHROUGH_DATETIME)
        except orjson.JSONEncodeError as err:
            if isinstance(err.__cause__, ValueError):
                raise err.__cause__ from None
            raise
        return (document.decode(),)


def _json_time(value: Any) -> str:
    """A time for a timestamptz column, refused when naive (as `UTCDateTime` refuses it)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value")


_records_statements: dict[tuple[Table, tuple[str, ...], tuple[str, ...]], _RecordsStatement] = {}


def _records_statement(
    conn: Connection, table: Table, keys: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
) -> _RecordsStatement:
    columns = tuple(rows[0])
    statement = _records_statements.get((table, columns, keys))
    if statement is None:
        statement = _records_statements[(table, columns, keys)] = _RecordsStatement(
            table, columns, keys, conn.dialect
        )
    return statement


def _by_records(
    conn: Connection, table: Table, keys: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
) -> int:
    statement = _records_statement(conn, table, keys, rows)
    result = conn.exec_driver_sql(statement.sql, statement.parameters(rows))
    return int(result.rowcount)


def insert_ignore_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """INSERT … ON CONFLICT DO NOTHING of `rows` (all with the same keys); returns the rows written.
    On PostgreSQL one statement for all of them (`jsonb_to_recordset` of the rows as one JSON document)."""
    if not rows:
        return 0
    if conn.dialect.name != "postgresql":
        return execute_many(conn, insert_ignore(conn, table), rows)
    return _by_records(conn, table, (), rows)


def insert_ignore_returning(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], column: str
) -> set[Any]:
    """Like `insert_ignore_many`, but says which rows were written: the `column` value of each."""
    if not rows:
        return set()
    if conn.dialect.name != "postgresql":
        one = insert_ignore(conn, table).returning(table.c[column])
        return {value for row in rows for value in conn.execute(one, dict(row)).scalars()}
    statement = _records_statement(conn, table, (), rows)
    quoted = conn.dialect.identifier_preparer.quote(column)
    result = conn.exec_driver_sql(f"{statement.sql} RETURNING {quoted}", statement.parameters(rows))
    return {row[0] for row in result}


def update_many(
    conn: Connection, table: Table, keys: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Set each row's other columns on the table row its `keys` columns name (unique among `rows`).
    On PostgreSQL one statement for all of them; elsewhere one UPDATE per row (executemany)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _by_records(conn, table, keys, rows)
        return
    statement = _update_by_keys(table, keys, tuple(c for c in rows[0] if c not in keys))
    execute_many(conn, statement, [{f"_{k}" if k in keys else k: v for k, v in row.items()} for row in rows])


@cache
def _update_by_keys(table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> UpdateBase:
    return (
        table.update()
        .where(*(table.c[name] == bindparam(f"_{name}") for name in keys))
        .values({name: bindparam(name) for name in columns})
    )


def insert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def insert_ignore(conn: Connection, table: Table) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING (built once per dialect and table)."""
    return _insert_ignore(conn.dialect.name, table)


@cache
def _insert_ignore(dialect: str, table: Table) -> Insert:
    module = postgresql if dialect == "postgresql" else sqlite
    stmt: Insert = module.insert(table).on_conflict_do_nothing()
    return stmt


def lock_keys(
    conn: Connection, keys: Iterable[str], *, shared: bool = False, then_shared: Iterable[str] = ()
) -> None:
    """Serialise concurrent writers on the same identity values (PostgreSQL transaction locks);
    `shared` locks only exclude the exclusive ones. `then_shared`: keys to lock shared after `keys`,
    in the same statement.

    SQLite needs nothing: a write transaction holds the whole database (BEGIN IMMEDIATE).
    Locks are taken in sorted order so two transactions can never wait on each other.
    """
    if conn.dialect.name != "postgresql":
        return
    numbers = sorted({_lock_number(key) for key in keys})
    after = sorted({_lock_number(key) for key in then_shared})
    if after:
        modes = [shared] * len(numbers) + [True] * len(after)
        conn.execute(_LOCK_IN_ORDER, {"keys": numbers + after, "shared": modes})
    elif numbers:
        conn.execute(_LOCK_SHARED if shared else _LOCK, {"keys": numbers})


def try_lock_keys_shared(conn: Connection, keys: Iterable[str]) -> bool:
    """Take shared transaction locks on `keys` if no one holds one exclusively; False otherwise (the
    caller should leave that work for later instead of waiting). Always True on SQLite."""
    if conn.dialect.name != "postgresql":
        return True
    numbers = sorted({_lock_number(key) for key in keys})
    if not numbers:
        return True
    return bool(conn.execute(_TRY_SHARED, {"keys": numbers}).scalar())


def try_lock_each(conn: Connection, keys: Iterable[str]) -> set[str]:
    """Take exclusive transaction locks on whichever of `keys` no one else holds; returns those taken
    (all of them on SQLite, whose writer excludes everyone anyway)."""
    wanted = sorted(set(keys))
    if conn.dialect.name != "postgresql" or not wanted:
        return set(wanted)
    by_number = {_lock_number(key): key for key in wanted}
    rows = conn.execute(_TRY_EACH, {"keys": sorted(by_number)})
    return {by_number[number] for number, taken in rows if taken}


_TRY_EACH = text(
    "SELECT k, pg_try_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"
)
_TRY_SHARED = text(
    "SELECT bool_and(pg_try_advisory_xact_lock_shared(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"
)
_LOCK = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k")
_LOCK_IN_ORDER = text(
    "SELECT CASE WHEN t.shared THEN pg_advisory_xact_lock_shared(t.k) ELSE pg_advisory_xact_lock(t.k) END "
    "FROM unnest(CAST(:keys AS bigint[]), CAST(:shared AS boolean[])) WITH ORDINALITY AS t(k, shared, n) "
    "ORDER BY t.n"
)
_LOCK_SHARED = text(
    "SELECT pg_advisory_xact_lock_shared(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"
)


def _lock_number(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    """Split long IN lists so SQLite's variable limit is never reached."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def in_chunks(conn: Connection, values: Sequence[Any]) -> Iterable[list[Any]]:
    """The parts to bind to a `one_of` parameter: all at once on PostgreSQL, chunks on SQLite."""
    if conn.dialect.name == "postgresql":
        return [list(values)] if values else []
    return (list(part) for part in chunks(values))


def one_of(dialect: str, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """`column IN :name`, the list bound at execution. On PostgreSQL one array parameter (`= ANY`):
    the SQL is the same for any number of values, so the server parses and plans it once."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def contains_pattern(text_value: str) -> str:
    """A LIKE pattern (escape character `\\`) matching `text_value` anywhere, case-folded."""
    escaped = text_value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
