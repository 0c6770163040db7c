"""CSV import rules, pure: where each column goes, which type it has, how one row becomes contact fields."""

from __future__ import annotations

from typing import Any

import pytest

from nurture.domain.csv_import import (
    Column,
    ColumnType,
    ParsedRow,
    RowError,
    convert,
    infer_columns,
    infer_type,
    parse_options,
    parse_row,
    plan_columns,
)
from nurture.domain.errors import Invalid


def targets(columns: list[Column | None]) -> list[tuple[str, bool] | None]:
    return [None if c is None else (c.target, c.is_attribute) for c in columns]


def fields_of(exc: pytest.ExceptionInfo[Invalid]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


# column planning


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["email"], [("email", False)]),
        (["Email", "Phone"], [("email", False), ("phone", False)]),
        (["email", "firstName", "lastName"], [("email", False), ("first_name", False), ("last_name", False)]),
        (
            ["email", "First Name", "last_name"],
            [("email", False), ("first_name", False), ("last_name", False)],
        ),
        (["user_id", "timezone", "locale"], [("user_id", False), ("timezone", False), ("locale", False)]),
        (["userId"], [("user_id", False)]),
        (["email", "plan", "Lifetime Value"], [("email", False), ("plan", True), ("Lifetime Value", True)]),
    ],
)
def test_default_targets_come_from_the_header(header: list[str], expected: list[tuple[str, bool]]) -> None:
    assert targets(plan_columns(header)) == expected


def test_map_overrides_the_header() -> None:
    columns = plan_columns(
        ["E-Mail", "Mobile", "Tier", "Notes", "email"],
        {"E-Mail": "email", "Mobile": "phone", "Tier": "attributes.plan", "Notes": "-", "email": "-"},
    )
    assert targets(columns) == [("email", False), ("phone", False), ("plan", True), None, None]


def test_a_core_field_can_be_kept_as_an_attribute() -> None:
    columns = plan_columns(["email", "locale"], {"locale": "attributes.locale"})
    assert targets(columns) == [("email", False), ("locale", True)]


def test_columns_start_as_text_unless_declared() -> None:
    columns = plan_columns(["email", "age", "vip"], types={"age": "integer"})
    assert [c.type for c in columns if c is not None] == [
        ColumnType.STRING,
        ColumnType.INTEGER,
        ColumnType.STRING,
    ]


@pytest.mark.parametrize(
    ("header", "mapping", "types", "field", "says"),
    [
        (["email", "plan"], {"plan": "tier"}, {}, "map.plan", "unknown target 'tier'"),
        (["email", "plan"], {"plan": "attributes"}, {}, "map.plan", "attributes.NAME"),
        (["email"], {"mail": "email"}, {}, "map.mail", "there is no column 'mail'"),
        (["email", "age"], {}, {"years": "integer"}, "type.years", "there is no column 'years'"),
        (["email", "age"], {}, {"age": "int"}, "type.age", "unknown type 'int'"),
        (["email", "phone"], {}, {"phone": "integer"}, "type.phone", "phone is a text field"),
        (["email", "mail"], {"mail": "email"}, {}, "map", "two columns map to the same field"),
        (["email", "email"], {}, {}, "header", "unique"),
        (["name", "plan"], {}, {}, "header", "needs an email or user_id column"),
        (["email", "plan"], {"email": "-"}, {}, "header", "needs an email or user_id column"),
        (["email", "plan"], {"email": "attributes.email"}, {}, "header", "needs an email or user_id column"),
    ],
)
def test_bad_options_name_the_option(
    header: list[str], mapping: dict[str, str], types: dict[str, str], field: str, says: str
) -> None:
    with pytest.raises(Invalid) as exc:
        plan_columns(header, mapping, types)
    errors = fields_of(exc)
    assert field in errors, errors
    assert says in errors[field]


def test_unknown_target_lists_what_is_allowed() -> None:
    with pytest.raises(Invalid) as exc:
        plan_columns(["email", "x"], {"x": "nickname"})
    message = fields_of(exc)["map.x"]
    for allowed in ("email", "phone", "first_name", "user_id", "attributes.NAME", "-"):
        assert allowed in message


def test_every_bad_option_is_reported_at_once() -> None:
    with pytest.raises(Invalid) as exc:
        plan_columns(["email", "a", "b"], {"a": "nope"}, {"b": "money"})
    assert {"map.a", "type.b"} <= set(fields_of(exc))


def test_a_user_id_column_alone_is_enough() -> None:
    assert targets(plan_columns(["user_id", "plan"])) == [("user_id", False), ("plan", True)]


# type inference


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "42", "-7", ""], ColumnType.INTEGER),
        (["1", "0"], ColumnType.INTEGER),
        (["1.5", "2", "-0.25"], ColumnType.NUMBER),
        (["1e3", "2"], ColumnType.NUMBER),
        (["0.5", "0.75"], ColumnType.NUMBER),
        (["true", "False", "yes", "NO"], ColumnType.BOOLEAN),
        (["yes", "1", "0"], ColumnType.BOOLEAN),
        (["2024-05-01", "1999-12-31"], ColumnType.DATE),
        (["2024-05-01T09:00:00Z", "2024-05-01T11:00:00+02:00"], ColumnType.DATETIME),
        (["02134", "10001"], ColumnType.STRING),
        (["007"], ColumnType.STRING),
        (["00"], ColumnType.STRING),
        (["1", "two"], ColumnType.STRING),
        (["1.5", "yes"], ColumnType.STRING),
        (["2024-05-01", "2024-05-01T09:00:00Z"], ColumnType.STRING),
        (["2024-05-01T09:00:00"], ColumnType.STRING),
        (["2024-13-01"], ColumnType.STRING),
        (["gold", "silver"], ColumnType.STRING),
        ([], ColumnType.STRING),
        (["", "  "], ColumnType.STRING),
    ],
)
def test_infer_type(values: list[str], expected: ColumnType) -> None:
    assert infer_type(values) is expected


@pytest.mark.parametrize(
    "values",
    [
        ["NaN"],
        ["nan", "inf"],
        ["Infinity"],
        ["1_000"],
        ["1_000.5"],
        ["123456789012345678901234567890"],
    ],
)
def test_text_that_python_would_read_as_a_number_stays_text(values: list[str]) -> None:
    # A nickname "Nan" is not a missing number; "1_000" and a 30-digit id are codes that JSON
    # cannot hold as numbers without changing them.
    assert infer_type(values) is ColumnType.STRING


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (" 42 ", ColumnType.INTEGER, 42),
        ("2.50", ColumnType.NUMBER, 2.5),
        ("3", ColumnType.NUMBER, 3),
        ("Yes", ColumnType.BOOLEAN, True),
        ("n", ColumnType.BOOLEAN, False),
        ("2024-05-01", ColumnType.DATE, "2024-05-01"),
        ("2024-05-01T09:00:00Z", ColumnType.DATETIME, "2024-05-01T09:00:00+00:00"),
        ('{"a": [1, 2]}', ColumnType.JSON, {"a": [1, 2]}),
        (" keep me ", ColumnType.STRING, " keep me "),
    ],
)
def test_convert(value: str, kind: ColumnType, expected: Any) -> None:
    converted = convert(value, kind)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("4.5", ColumnType.INTEGER),
        ("lots", ColumnType.NUMBER),
        ("nan", ColumnType.NUMBER),
        ("inf", ColumnType.NUMBER),
        ("99999999999999999999999", ColumnType.INTEGER),
        ("maybe", ColumnType.BOOLEAN),
        ("01/05/2024", ColumnType.DATE),
        ("2024-05-01T09:00:00", ColumnType.DATETIME),
        ("1e999", ColumnType.NUMBER),
        ("{not json", ColumnType.JSON),
        ('{"a": NaN}', ColumnType.JSON),
        ("[1e999]", ColumnType.JSON),
        ("99999999999999999999999", ColumnType.JSON),
    ],
)
def test_convert_rejects(value: str, kind: ColumnType) -> None:
    with pytest.raises(ValueError, match=r".+"):
        convert(value, kind)


def test_infer_columns_types_attributes_only_and_keeps_declared_types() -> None:
    planned = plan_columns(["email", "age", "code", "score", "skip"], {"skip": "-"}, {"score": "string"})
    rows = [["a@example.com", "31", "0042", "10", "x"], ["b@example.com", "", "0043", "11", "y"]]
    inferred = infer_columns(planned, rows, {"score": "string"})
    kinds = [None if c is None else c.type for c in inferred]
    assert kinds == [ColumnType.STRING, ColumnType.INTEGER, ColumnType.STRING, ColumnType.STRING, None]


# one row


def planned(header: list[str], types: dict[str, str] | None = None) -> list[Column | None]:
    return plan_columns(header, {"ignored": "-"} if "ignored" in header else None, types)


def test_parse_row_splits_core_fields_user_id_and_typed_attributes() -> None:
    columns = planned(["user_id", "email", "first_name", "age", "ignored"], {"age": "integer"})
    row = parse_row(7, ["u1", "Ada@Example.com", "Ada", "36", "whatever"], columns)
    assert row == ParsedRow(
        line=7, user_id="u1", core={"email": "Ada@Example.com", "first_name": "Ada"}, attributes={"age": 36}
    )


def test_empty_cells_leave_fields_alone() -> None:
    columns = planned(["email", "first_name", "age"], {"age": "integer"})
    row = parse_row(2, ["a@example.com", "", " "], columns)
    assert isinstance(row, ParsedRow)
    assert row.core == {"email": "a@example.com"}
    assert row.attributes == {}


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["a@example.com", "x"], RowError(5, None, "has 2 cells; the header has 3")),
        (["a@example.com", "x", "1", "extra"], RowError(5, None, "has 4 cells; the header has 3")),
        (["", "Ada", "36"], RowError(5, None, "has neither an email nor a user_id")),
    ],
)
def test_parse_row_errors_for_the_whole_row(cells: list[str], expected: RowError) -> None:
    assert parse_row(5, cells, planned(["email", "first_name", "age"], {"age": "integer"})) == expected


def test_a_user_id_longer_than_the_tracking_api_allows_is_a_row_error() -> None:
    columns = plan_columns(["Customer", "email"], {"Customer": "user_id"})
    assert isinstance(parse_row(3, ["u" * 255, ""], columns), ParsedRow)
    assert parse_row(3, ["u" * 256, "a@example.com"], columns) == RowError(
        3, "Customer", "a user_id has at most 255 characters"
    )


def test_parse_row_error_names_row_column_and_reason() -> None:
    columns = planned(["email", "Age"], {"Age": "integer"})
    error = parse_row(9, ["a@example.com", "thirty"], columns)
    assert isinstance(error, RowError)
    assert (error.row, error.column) == (9, "Age")
    assert error.reason.startswith("not a valid integer")
    assert "thirty" in error.reason


# repeatable options


def test_parse_options() -> None:
    assert parse_options(["E-Mail:email", "Tier:attributes.plan", "a:b:c"], "--map") == {
        "E-Mail": "email",
        "Tier": "attributes.plan",
        "a:b": "c",
    }
    assert parse_options([], "--map") == {}


@pytest.mark.parametrize("value", ["email", ":email", "email:", ""])
def test_parse_options_names_the_option(value: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_options([value], "--type")
    assert [e.field for e in exc.value.errors] == ["--type"]
    assert "COLUMN:VALUE" in exc.value.errors[0].message
