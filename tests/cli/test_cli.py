"""The `nurture` command line, run as a real process against a fresh database per test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text

from nurture.api.app import create_app
from nurture.bootstrap import build
from nurture.domain.keys import hash_key
from nurture.settings import Settings
from nurture.store.db import normalize_url
from tests.conftest import _postgres_database, _worker


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def said(self) -> str:
        """Everything printed, with line wrapping undone (Rich wraps at the terminal width)."""
        return " ".join((self.stdout + " " + self.stderr).split())

    def json(self) -> Any:
        assert self.code in (0, 3), self.stderr
        return json.loads(self.stdout)


@dataclass
class Cli:
    url: str
    home: Path

    def __call__(self, *args: str) -> Result:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
        env["NURTURE_DATABASE_URL"] = self.url
        done = subprocess.run(
            [sys.executable, "-m", "nurture.cli.main", *args],
            env=env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return Result(done.returncode, done.stdout, done.stderr)

    def file(self, name: str, content: str) -> str:
        path = self.home / name
        path.write_text(content, encoding="utf-8")
        return str(path)

    def query(self, sql: str) -> list[dict[str, Any]]:
        engine = create_engine(normalize_url(self.url))
        try:
            with engine.connect() as conn:
                return [dict(row._mapping) for row in conn.execute(text(sql))]
        finally:
            engine.dispose()

    def api(self) -> TestClient:
        return TestClient(create_app(build(Settings(database_url=self.url, key_cache_seconds=0))))


@pytest.fixture
def nurture(tmp_path: Path, is_postgres: bool, database_url: str) -> Cli:
    """`nurture …` on its own empty database (not yet migrated)."""
    if is_postgres:
        url = _postgres_database(database_url, f"nurture_cli_{_worker()}")
    else:
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    return Cli(url, tmp_path)


@pytest.fixture
def acme(nurture: Cli) -> dict[str, str]:
    created = nurture("workspace", "create", "Acme", "--json")
    assert created.code == 0, created.stderr
    workspace: dict[str, str] = created.json()
    return workspace


@pytest.fixture
def api(nurture: Cli, acme: dict[str, str]) -> Iterator[TestClient]:
    with nurture.api() as client:
        yield client


def can_admin(client: TestClient, key: str) -> int:
    return client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {key}"}).status_code


def can_track(client: TestClient, key: str) -> int:
    return client.post("/v1/track", json={"userId": "u1", "event": "Signed Up"}, auth=(key, "")).status_code


# migrate and workspaces


def test_migrate_builds_the_schema_and_can_run_again(nurture: Cli) -> None:
    first = nurture("migrate")
    assert first.code == 0, first.stderr
    assert "up to date" in first.stderr
    engine = create_engine(normalize_url(nurture.url))
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"workspaces", "api_keys", "contacts", "contact_identities", "events", "alembic_version"} <= tables
    assert nurture("migrate").code == 0


def test_workspace_create_prints_its_keys_once(nurture: Cli, acme: dict[str, str]) -> None:
    assert set(acme) == {"id", "name", "write_key", "secret_key"}
    assert acme["name"] == "Acme"
    assert acme["write_key"].startswith("nw_")
    assert acme["secret_key"].startswith("ns_")
    listed = nurture("workspace", "list", "--json")
    assert listed.code == 0
    assert [(w["id"], w["name"]) for w in listed.json()] == [(acme["id"], "Acme")]
    assert acme["secret_key"] not in listed.stdout


def test_workspace_list_shows_every_workspace(nurture: Cli, acme: dict[str, str]) -> None:
    globex = nurture("workspace", "create", "Globex")
    assert globex.code == 0
    assert "write key:" in globex.stdout
    assert "secret key:" in globex.stdout
    listed = nurture("workspace", "list", "--json").json()
    assert sorted(w["name"] for w in listed) == ["Acme", "Globex"]
    assert all(set(w) == {"id", "name", "created_at"} for w in listed)
    table = nurture("workspace", "list")
    assert table.code == 0
    assert acme["id"] in table.stdout
    assert "Globex" in table.stdout


def test_a_workspace_needs_a_name(nurture: Cli) -> None:
    result = nurture("workspace", "create", "  ")
    assert result.code == 1
    assert "name: must be 1 to 200 characters" in result.said


def test_names_are_printed_as_written(nurture: Cli) -> None:
    """Rich markup in user text must neither vanish nor crash the command."""
    created = nurture("workspace", "create", "[bold]Ops[/]")
    assert created.code == 0
    assert "[bold]Ops[/]" in created.stdout
    assert "[bold]Ops[/]" in nurture("workspace", "list").stdout


# keys


def test_a_new_key_is_shown_once_works_and_is_stored_hashed(
    nurture: Cli, acme: dict[str, str], api: TestClient
) -> None:
    secret = nurture("keys", "create", "--kind", "secret", "--json").json()
    write = nurture("keys", "create", "--kind", "write", "--workspace", acme["id"], "--json").json()
    assert set(secret) == {"id", "workspace_id", "kind", "key"}
    assert (secret["kind"], secret["workspace_id"]) == ("secret", acme["id"])
    assert (write["kind"], write["workspace_id"]) == ("write", acme["id"])

    assert can_admin(api, secret["key"]) == 200
    assert can_track(api, write["key"]) == 200
    assert can_admin(api, write["key"]) == 401
    assert can_track(api, secret["key"]) == 401

    rows = nurture.query("SELECT * FROM api_keys")
    assert len(rows) == 4
    stored = " ".join(str(value) for row in rows for value in row.values())
    for key in (secret["key"], write["key"], acme["secret_key"], acme["write_key"]):
        assert key not in stored
        assert hash_key(key) in stored

    listed = nurture("keys", "list", "--json")
    assert listed.code == 0
    by_id = {k["id"]: k for k in listed.json()}
    assert by_id[secret["id"]]["kind"] == "secret"
    assert secret["key"].startswith(by_id[secret["id"]]["prefix"])
    assert len(by_id[secret["id"]]["prefix"]) < len(secret["key"])
    assert [k["revoked_at"] for k in by_id.values()] == [None] * 4
    human = nurture("keys", "list")
    assert secret["id"] in human.stdout
    for key in (secret["key"], write["key"]):
        assert key not in listed.stdout + human.stdout


def test_a_revoked_key_stops_working(nurture: Cli, acme: dict[str, str], api: TestClient) -> None:
    secret = nurture("keys", "create", "--kind", "secret", "--json").json()
    write = nurture("keys", "create", "--kind", "write", "--json").json()
    assert can_admin(api, secret["key"]) == 200
    for key in (secret, write):
        revoked = nurture("keys", "revoke", key["id"])
        assert revoked.code == 0, revoked.stderr
        assert f"revoked {key['id']}" in revoked.said
    assert can_admin(api, secret["key"]) == 401
    assert can_track(api, write["key"]) == 401
    assert can_admin(api, acme["secret_key"]) == 200
    listed = {k["id"]: k["revoked_at"] for k in nurture("keys", "list", "--json").json()}
    assert listed[secret["id"]] is not None
    assert listed[write["id"]] is not None
    again = nurture("keys", "revoke", secret["id"])
    assert again.code == 1
    assert f"no active key {secret['id']}" in again.said


def test_a_key_kind_must_be_write_or_secret(nurture: Cli, acme: dict[str, str]) -> None:
    result = nurture("keys", "create", "--kind", "admin")
    assert result.code == 2
    assert "--kind" in result.said


# choosing the workspace

WORKSPACE_COMMANDS = [
    ["keys", "list"],
    ["keys", "create", "--kind", "write"],
    ["keys", "revoke", "01KEY"],
    ["import", "contacts", "contacts.csv"],
]


def run_everywhere(nurture: Cli, *extra: str) -> list[Result]:
    nurture.file("contacts.csv", "email\nada@example.com\n")
    return [nurture(*command, *extra) for command in WORKSPACE_COMMANDS]


def test_without_workspaces_commands_say_how_to_create_one(nurture: Cli) -> None:
    for result in run_everywhere(nurture):
        assert result.code == 1
        assert "there is no workspace yet; create one with `nurture workspace create NAME`" in result.said


def test_with_several_workspaces_commands_ask_for_workspace(nurture: Cli, acme: dict[str, str]) -> None:
    assert nurture("workspace", "create", "Globex").code == 0
    for result in run_everywhere(nurture):
        assert result.code == 1
        assert "there are 2 workspaces; choose one with --workspace ID" in result.said
    assert nurture.query("SELECT * FROM contacts") == []
    assert len(nurture.query("SELECT * FROM api_keys")) == 4


def test_an_unknown_workspace_is_named(nurture: Cli, acme: dict[str, str]) -> None:
    for result in run_everywhere(nurture, "--workspace", "01NOPE"):
        assert result.code == 1
        assert "workspace 01NOPE does not exist" in result.said


def test_with_one_workspace_commands_use_it(nurture: Cli, acme: dict[str, str]) -> None:
    other = nurture("workspace", "create", "Globex", "--json").json()
    chosen = nurture("keys", "create", "--kind", "write", "--workspace", other["id"], "--json").json()
    assert chosen["workspace_id"] == other["id"]
    listed = nurture("keys", "list", "-w", acme["id"], "--json").json()
    assert chosen["id"] not in [k["id"] for k in listed]
    assert len(listed) == 2


# import


CONTACTS = (
    "email,first_name,Mobile,age,signed_up\n"
    "ada@example.com,Ada,+14155550123,36,2024-05-01\n"
    "not-an-email,Bob,,40,2024-05-02\n"
    "carol@example.com,Carol,555,41,2024-05-03\n"
    "dave@example.com,Dave,,forty,\n"
    "erin@example.com,Erin,,,2024-05-04\n"
)


def test_import_reports_bad_rows_by_line_and_column(nurture: Cli, acme: dict[str, str]) -> None:
    path = nurture.file("contacts.csv", CONTACTS)
    args = ("import", "contacts", path, "--workspace", acme["id"], "--map", "Mobile:phone")
    first = nurture(*args, "--type", "age:integer", "--json")
    assert first.code == 3
    report = first.json()
    assert {k: report[k] for k in ("rows", "created", "updated", "unchanged", "suppressed")} == {
        "rows": 5,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "suppressed": 0,
    }
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(3, "email"), (4, "Mobile"), (5, "age")]
    rows = nurture.query("SELECT email, phone, attributes FROM contacts ORDER BY email")
    assert [(r["email"], r["phone"]) for r in rows] == [
        ("ada@example.com", "+14155550123"),
        ("erin@example.com", None),
    ]

    second = nurture(*args, "--type", "age:integer", "--json")
    assert second.code == 3
    assert {k: second.json()[k] for k in ("rows", "created", "updated", "unchanged")} == {
        "rows": 5,
        "created": 0,
        "updated": 0,
        "unchanged": 2,
    }
    assert second.json()["errors"] == report["errors"]

    human = nurture(*args, "--type", "age:integer")
    assert human.code == 3
    assert "5 rows: 0 created, 0 updated, 2 unchanged, 3 with errors" in human.said
    assert "line 3, column 'email': not a valid email address" in human.said
    assert "line 5, column 'age': not a valid integer" in human.said


def test_row_errors_print_cell_values_as_written(nurture: Cli, acme: dict[str, str]) -> None:
    path = nurture.file("contacts.csv", "email,age\nada@example.com,[/b]\n")
    result = nurture("import", "contacts", path, "--type", "age:integer")
    assert result.code == 3
    assert "line 2, column 'age': not a valid integer: '[/b]' is not a whole number" in result.said


def test_a_clean_import_exits_zero_and_a_second_run_changes_nothing(
    nurture: Cli, acme: dict[str, str]
) -> None:
    path = nurture.file(
        "clean.csv", "\ufeffuser_id,email,plan\nu1,ada@example.com,pro\nu2,bob@example.com,free\n"
    )
    first = nurture("import", "contacts", path, "--json")
    assert first.code == 0, first.stderr
    assert (first.json()["created"], first.json()["errors"]) == (2, [])
    before = nurture.query("SELECT id, updated_at, attributes FROM contacts ORDER BY id")
    second = nurture("import", "contacts", path)
    assert second.code == 0
    assert "2 rows: 0 created, 0 updated, 2 unchanged, 0 with errors" in second.said
    assert nurture.query("SELECT id, updated_at, attributes FROM contacts ORDER BY id") == before


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--map", "email"], "--map: 'email' is not COLUMN:VALUE"),
        (["--type", "age"], "--type: 'age' is not COLUMN:VALUE"),
        (["--map", "mail:email"], "map.mail: there is no column 'mail' in the file"),
        (["--map", "age:years"], "map.age: unknown target 'years'"),
        (["--type", "age:int"], "type.age: unknown type 'int'"),
        (["--map", "[b]x:email"], "map.[b]x: there is no column '[b]x' in the file"),
        (["--map", "x[/]:email"], "map.x[/]: there is no column 'x[/]' in the file"),
    ],
)
def test_a_bad_option_names_the_option_and_stores_nothing(
    nurture: Cli, acme: dict[str, str], options: list[str], says: str
) -> None:
    path = nurture.file("contacts.csv", "email,age\nada@example.com,36\n")
    result = nurture("import", "contacts", path, *options)
    assert result.code == 1
    assert says in result.said
    assert nurture.query("SELECT * FROM contacts") == []


def test_a_bad_header_is_named(nurture: Cli, acme: dict[str, str]) -> None:
    path = nurture.file("contacts.csv", "name,plan\nAda,pro\n")
    result = nurture("import", "contacts", path)
    assert result.code == 1
    assert "header: the file needs an email or user_id column" in result.said


def test_a_missing_file_is_named(nurture: Cli, acme: dict[str, str]) -> None:
    result = nurture("import", "contacts", "nowhere.csv")
    assert result.code == 2
    assert "nowhere.csv" in result.said


def test_import_into_a_list_and_an_unknown_list_is_named(
    nurture: Cli, acme: dict[str, str], api: TestClient
) -> None:
    headers = {"Authorization": f"Bearer {acme['secret_key']}"}
    listed = api.post("/api/v1/lists", headers=headers, json={"name": "Fair"}).json()
    path = nurture.file("fair.csv", "email\nada@example.com\nnope\nbob@example.com\n")
    result = nurture("import", "contacts", path, "--list", listed["id"], "--json")
    assert result.code == 3
    assert (result.json()["created"], result.json()["added_to_list"]) == (2, 2)
    human = nurture("import", "contacts", path, "--list", listed["id"])
    assert "0 added to the list" in human.said
    members = nurture.query(f"SELECT contact_id FROM list_members WHERE list_id = '{listed['id']}'")
    assert len(members) == 2

    unknown = nurture(
        "import", "contacts", nurture.file("new.csv", "email\nnew@example.com\n"), "--list", "01NOPE"
    )
    assert unknown.code == 1
    assert "--list: no list 01NOPE in this workspace" in unknown.said
    assert nurture.query("SELECT email FROM contacts WHERE email = 'new@example.com'") == []


def test_a_bad_setting_is_one_line_naming_the_variable_and_nothing_runs(nurture: Cli) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    env |= {"NURTURE_DATABASE_URL": nurture.url, "NURTURE_WEBHOOK_LOG_DAYS": "0", "NURTURE_PORT": "eighty"}
    done = subprocess.run(
        [sys.executable, "-m", "nurture.cli.main", "workspace", "create", "Acme", "--json"],
        env=env,
        cwd=nurture.home,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "NURTURE_PORT=eighty",
        "NURTURE_WEBHOOK_LOG_DAYS=0",
    ]
    assert "greater than or equal to 1" in lines[1]
    assert nurture("workspace", "list", "--json").json() == []
