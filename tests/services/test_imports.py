"""CSV contact import through the service: upsert, typed attributes, per-row errors, idempotence."""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from nurture.bootstrap import Container
from nurture.domain.contacts import Contact
from nurture.domain.csv_import import RowError
from nurture.domain.errors import Invalid
from nurture.domain.profile import parse_traits
from nurture.services import imports
from nurture.services.clock import ManualClock
from nurture.services.contacts import ContactInput
from nurture.services.identity import IdentityGraph
from nurture.services.imports import ImportReport
from nurture.services.workspaces import NewWorkspace
from nurture.store.sql import lock_keys


def run(
    container: Container,
    workspace: NewWorkspace,
    text: str,
    mapping: dict[str, str] | None = None,
    types: dict[str, str] | None = None,
    **kwargs: Any,
) -> ImportReport:
    """Import `text` as the CLI and the API hand it over: lines with their own line endings."""
    return container.imports.import_contacts(
        workspace.id, io.StringIO(text, newline=""), mapping=mapping, types=types, **kwargs
    )


def csv(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def contacts(container: Container, workspace: NewWorkspace) -> list[Contact]:
    return container.contacts.list(workspace.id, limit=500).items


def by_email(container: Container, workspace: NewWorkspace, email: str) -> Contact:
    [found] = container.contacts.list(workspace.id, email=email).items
    return container.contacts.get(workspace.id, found.id)


def by_user_id(container: Container, workspace: NewWorkspace, user_id: str) -> Contact:
    [found] = container.contacts.list(workspace.id, user_id=user_id).items
    return container.contacts.get(workspace.id, found.id)


def counts(report: ImportReport) -> tuple[int, int, int, int, int]:
    return report.rows, report.created, report.updated, report.unchanged, len(report.errors)


# upsert


def test_new_rows_create_contacts_with_core_fields_and_user_id(
    container: Container, workspace: NewWorkspace
) -> None:
    report = run(
        container,
        workspace,
        csv(
            "user_id,email,first_name,last_name,phone,timezone,locale",
            "u1,Ada@Example.COM,Ada,Lovelace,+44 20 7946 0958,Europe/London,en-gb",
            "u2,grace@example.com,Grace,Hopper,,America/New_York,en-US",
        ),
    )
    assert counts(report) == (2, 2, 0, 0, 0)
    ada = by_user_id(container, workspace, "u1")
    assert ada.core() == {
        "email": "ada@example.com",
        "phone": "+442079460958",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "timezone": "Europe/London",
        "locale": "en-GB",
    }
    assert by_email(container, workspace, "grace@example.com").user_id == "u2"


def test_rows_update_the_contact_their_email_finds(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    existing = container.contacts.create(
        workspace.id, ContactInput({"email": "ada@example.com", "first_name": "Ada"}, {"plan": "free"})
    )
    later = clock.advance(timedelta(hours=1))
    report = run(
        container,
        workspace,
        csv("email,last_name,plan", "ADA@example.com,Lovelace,pro", "new@example.com,Newman,free"),
    )
    assert counts(report) == (2, 1, 1, 0, 0)
    ada = container.contacts.get(workspace.id, existing.id)
    assert (ada.first_name, ada.last_name, ada.attributes) == ("Ada", "Lovelace", {"plan": "pro"})
    assert ada.created_at == existing.created_at
    assert ada.updated_at == later
    assert len(contacts(container, workspace)) == 2


def test_rows_update_the_contact_their_user_id_finds(container: Container, workspace: NewWorkspace) -> None:
    existing = container.contacts.create(
        workspace.id, ContactInput({"user_id": "u1", "email": "old@example.com"})
    )
    report = run(container, workspace, csv("user_id,email,first_name", "u1,new@example.com,Ada"))
    assert counts(report) == (1, 0, 1, 0, 0)
    ada = container.contacts.get(workspace.id, existing.id)
    assert (ada.email, ada.first_name, ada.user_id) == ("new@example.com", "Ada", "u1")
    # the new address finds the contact from now on, the old one no longer does
    again = run(container, workspace, csv("email,last_name", "new@example.com,Lovelace"))
    assert counts(again) == (1, 0, 1, 0, 0)
    assert container.contacts.get(workspace.id, existing.id).last_name == "Lovelace"
    assert len(contacts(container, workspace)) == 1


def test_linking_a_user_id_to_a_contact_found_by_email_is_an_update(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    existing = container.contacts.create(workspace.id, ContactInput({"email": "ada@example.com"}))
    later = clock.advance(timedelta(minutes=5))
    report = run(container, workspace, csv("user_id,email", "u1,ada@example.com"))
    assert counts(report) == (1, 0, 1, 0, 0)
    ada = by_user_id(container, workspace, "u1")
    assert (ada.id, ada.updated_at) == (existing.id, later)
    assert counts(run(container, workspace, csv("user_id,email", "u1,ada@example.com"))) == (1, 0, 0, 1, 0)


def test_empty_cells_leave_stored_values_alone(container: Container, workspace: NewWorkspace) -> None:
    run(container, workspace, csv("email,first_name,plan", "ada@example.com,Ada,pro"))
    report = run(container, workspace, csv("email,first_name,plan", "ada@example.com,,"))
    assert counts(report) == (1, 0, 0, 1, 0)
    ada = by_email(container, workspace, "ada@example.com")
    assert (ada.first_name, ada.attributes) == ("Ada", {"plan": "pro"})


def test_the_same_email_twice_in_one_file_is_one_contact(
    container: Container, workspace: NewWorkspace
) -> None:
    report = run(
        container,
        workspace,
        csv("email,first_name,plan", "ada@example.com,Ada,free", "ADA@example.com,Augusta,pro"),
    )
    assert counts(report) == (2, 1, 1, 0, 0)
    [ada] = contacts(container, workspace)
    assert (ada.first_name, ada.attributes) == ("Augusta", {"plan": "pro"})


def test_chunks_see_what_earlier_chunks_stored(
    container: Container, workspace: NewWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    progress: list[tuple[int, int]] = []
    report = run(
        container,
        workspace,
        csv(
            "email,n",
            "a@example.com,1",
            "b@example.com,2",
            "c@example.com,3",
            "a@example.com,4",
            "b@example.com,2",
        ),
        progress=lambda done, total: progress.append((done, total)),
    )
    assert counts(report) == (5, 3, 1, 1, 0)
    assert progress == [(2, 5), (4, 5), (5, 5)]
    assert by_email(container, workspace, "a@example.com").attributes == {"n": 4}


def test_import_touches_only_its_workspace(
    container: Container, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> None:
    theirs = container.contacts.create(other_workspace.id, ContactInput({"email": "ada@example.com"}))
    report = run(container, workspace, csv("email,first_name", "ada@example.com,Ada"))
    assert counts(report) == (1, 1, 0, 0, 0)
    assert container.contacts.get(other_workspace.id, theirs.id).first_name is None
    assert by_email(container, workspace, "ada@example.com").first_name == "Ada"


# mapping and types


def test_columns_map_to_fields_and_attributes(container: Container, workspace: NewWorkspace) -> None:
    report = run(
        container,
        workspace,
        csv("E-Mail,Mobile,Tier,Internal notes,Given name", "ada@example.com,+14155550123,gold,secret,Ada"),
        mapping={
            "E-Mail": "email",
            "Mobile": "phone",
            "Tier": "attributes.plan",
            "Internal notes": "-",
            "Given name": "first_name",
        },
    )
    assert counts(report) == (1, 1, 0, 0, 0)
    ada = by_email(container, workspace, "ada@example.com")
    assert (ada.phone, ada.first_name) == ("+14155550123", "Ada")
    assert ada.attributes == {"plan": "gold"}


def test_inferred_types_are_stored_as_json_types(container: Container, workspace: NewWorkspace) -> None:
    run(
        container,
        workspace,
        csv(
            "email,orders,ltv,vip,signed_up,last_login,zip,ref,nickname,big_id",
            "a@example.com,3,19.5,yes,2024-05-01,2024-05-01T09:00:00Z,02134,A1,Nan,123456789012345678901234567890",
            "b@example.com,0,20,no,2023-12-31,2024-05-02T10:00:00+02:00,10001,7,Inf,1",
        ),
    )
    expected = {
        "orders": 3,
        "ltv": 19.5,
        "vip": True,
        "signed_up": "2024-05-01",
        "last_login": "2024-05-01T09:00:00+00:00",
        "zip": "02134",
        "ref": "A1",
        "nickname": "Nan",
        "big_id": "123456789012345678901234567890",
    }
    attributes = by_email(container, workspace, "a@example.com").attributes
    assert attributes == expected
    assert {k: type(v) for k, v in attributes.items()} == {k: type(v) for k, v in expected.items()}
    other = by_email(container, workspace, "b@example.com").attributes
    assert (other["ltv"], type(other["ltv"]), other["vip"], other["ref"]) == (20, int, False, "7")


def test_declared_types_win_over_inference(container: Container, workspace: NewWorkspace) -> None:
    run(
        container,
        workspace,
        csv("email,orders,score,opted,prefs", 'a@example.com,3,7,1,"{""topics"": [""news""]}"'),
        types={"orders": "string", "score": "number", "opted": "boolean", "prefs": "json"},
    )
    attributes = by_email(container, workspace, "a@example.com").attributes
    assert attributes == {"orders": "3", "score": 7, "opted": True, "prefs": {"topics": ["news"]}}
    assert type(attributes["opted"]) is bool


# errors


def test_bad_rows_are_reported_and_good_rows_stored(container: Container, workspace: NewWorkspace) -> None:
    report = run(
        container,
        workspace,
        csv(
            "E-Mail,Mobile,first_name,age",
            "ada@example.com,+14155550123,Ada,36",
            "not-an-email,,Bob,40",
            "carol@example.com,12345,Carol,41",
            "dave@example.com,,Dave",
            ",,Erin,50",
            "frank@example.com,,Frank,forty",
            "grace@example.com,,Grace,85",
        ),
        mapping={"E-Mail": "email", "Mobile": "phone"},
        types={"age": "integer"},
    )
    assert counts(report) == (7, 2, 0, 0, 5)
    found = [(e.row, e.column) for e in report.errors]
    assert found == [(3, "E-Mail"), (4, "Mobile"), (5, None), (6, None), (7, "age")]
    reasons = {e.row: e.reason for e in report.errors}
    assert "not a valid email address" in reasons[3]
    assert "phone number" in reasons[4]
    assert reasons[5] == "has 3 cells; the header has 4"
    assert reasons[6] == "has neither an email nor a user_id"
    assert "integer" in reasons[7]
    assert "forty" in reasons[7]
    assert sorted(c.email or "" for c in contacts(container, workspace)) == [
        "ada@example.com",
        "grace@example.com",
    ]


def test_an_overlong_user_id_is_a_row_error_not_a_failed_import(
    container: Container, workspace: NewWorkspace
) -> None:
    report = run(container, workspace, csv("user_id,email", f"{'u' * 400},a@example.com", "u2,b@example.com"))
    assert counts(report) == (2, 1, 0, 0, 1)
    assert [(e.row, e.column) for e in report.errors] == [(2, "user_id")]
    assert [c.email for c in contacts(container, workspace)] == ["b@example.com"]


def test_an_unreadable_row_does_not_stop_the_rows_after_it(
    container: Container, workspace: NewWorkspace
) -> None:
    huge = "x" * 200_000  # over the csv module's cell size limit
    report = run(
        container,
        workspace,
        csv("email,note", "a@example.com,ok", f"b@example.com,{huge}", "c@example.com,ok"),
    )
    assert counts(report) == (3, 2, 0, 0, 1)
    assert report.errors == [RowError(3, None, "is not valid CSV (field larger than field limit (131072))")]
    assert sorted(c.email or "" for c in contacts(container, workspace)) == ["a@example.com", "c@example.com"]


def test_errors_point_at_physical_lines(container: Container, workspace: NewWorkspace) -> None:
    report = run(
        container,
        workspace,
        csv(
            "email,address,age",
            'ada@example.com,"12 Main St,',
            'Springfield",36',
            "",
            "bob@example.com,,x",
            '"carol@example.com","2 Side St,',
            'Shelbyville","y"',
        ),
        types={"age": "integer"},
    )
    assert [(e.row, e.column) for e in report.errors] == [(5, "age"), (6, "age")]
    assert report.rows == 3
    assert report.created == 1


def test_cells_keep_quoted_commas_newlines_and_quotes(container: Container, workspace: NewWorkspace) -> None:
    report = run(
        container,
        workspace,
        "email,first_name,address,quote\r\n"
        'ada@example.com,"Ada, Countess","1 Main St\r\nLondon","say ""hi"""\r\n',
    )
    assert counts(report) == (1, 1, 0, 0, 0)
    ada = by_email(container, workspace, "ada@example.com")
    assert ada.first_name == "Ada, Countess"
    assert ada.attributes == {"address": "1 Main St\r\nLondon", "quote": 'say "hi"'}


def test_a_byte_order_mark_does_not_hide_the_first_column(
    container: Container, workspace: NewWorkspace
) -> None:
    raw = "email,first_name\nzoe@example.com,Zoë\nli@example.com,李\n".encode("utf-8-sig")
    report = run(container, workspace, raw.decode("utf-8"))
    assert counts(report) == (2, 2, 0, 0, 0)
    assert by_email(container, workspace, "zoe@example.com").first_name == "Zoë"
    assert by_email(container, workspace, "li@example.com").first_name == "李"


@pytest.mark.parametrize(
    ("text", "mapping", "field"),
    [
        ("", None, "file"),
        ("name,plan\nAda,pro\n", None, "header"),
        ("email,email\na@example.com,b@example.com\n", None, "header"),
        ("email,plan\na@example.com,pro\n", {"tier": "attributes.tier"}, "map.tier"),
        ("email,plan\na@example.com,pro\n", {"plan": "nickname"}, "map.plan"),
    ],
)
def test_a_bad_file_or_option_is_invalid_and_stores_nothing(
    container: Container, workspace: NewWorkspace, text: str, mapping: dict[str, str] | None, field: str
) -> None:
    with pytest.raises(Invalid) as exc:
        run(container, workspace, text, mapping)
    assert field in [e.field for e in exc.value.errors]
    assert contacts(container, workspace) == []


def test_a_header_without_rows_imports_nothing(container: Container, workspace: NewWorkspace) -> None:
    assert counts(run(container, workspace, "email,first_name\n")) == (0, 0, 0, 0, 0)


# idempotence and suppression


FILE = csv(
    "user_id,email,first_name,orders,vip,signed_up,address",
    'u1,ada@example.com,Ada,3,true,2024-05-01,"1 Main St, London"',
    "u2,bob@example.com,Bob,0,false,2024-06-01,",
    ",carol@example.com,Carol,7,true,,Somewhere",
    "u4,not-an-email,Dan,1,true,,",
)


def test_running_the_same_file_twice_changes_nothing_the_second_time(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    first = run(container, workspace, FILE)
    assert counts(first) == (4, 3, 0, 0, 1)
    before = {c.id: c for c in contacts(container, workspace)}
    clock.advance(timedelta(days=1))
    second = run(container, workspace, FILE)
    assert counts(second) == (4, 0, 0, 3, 1)
    assert second.errors == [RowError(5, "email", first.errors[0].reason)]
    after = {c.id: c for c in contacts(container, workspace)}
    assert after == before
    assert {c.updated_at for c in after.values()} == {clock.now() - timedelta(days=1)}


def test_an_erased_email_comes_back_suppressed(container: Container, workspace: NewWorkspace) -> None:
    erased = container.contacts.create(workspace.id, ContactInput({"email": "gone@example.com"}))
    container.contacts.erase(workspace.id, erased.id)
    report = run(
        container, workspace, csv("email,first_name", "Gone@Example.com,Back", "new@example.com,New")
    )
    assert counts(report) == (2, 2, 0, 0, 0)
    assert report.suppressed == 1
    assert by_email(container, workspace, "gone@example.com").suppressed is True
    assert by_email(container, workspace, "new@example.com").suppressed is False


# concurrency


def test_an_import_waits_for_a_concurrent_writer_of_the_same_address(
    container: Container, workspace: NewWorkspace, clock: ManualClock, is_postgres: bool
) -> None:
    """Ingest may create a contact while an import is running: the import must then update that
    contact, not fail on a duplicate identity or create a second one."""
    with ThreadPoolExecutor(1) as pool:
        with container.db.write() as conn:
            # what ingest does for an identify call carrying this address
            lock_keys(conn, [f"{workspace.id}:email:ada@example.com"])
            graph = IdentityGraph(conn, workspace.id, clock.now())
            contact = graph.resolve(user_id=None, anonymous_id=None, email="ada@example.com")
            graph.apply(contact, parse_traits({"email": "ada@example.com"}, ""))
            graph.flush()
            pending = pool.submit(run, container, workspace, csv("email,first_name", "ada@example.com,Ada"))
            if is_postgres:
                wait_for_lock_waiter(container)
        report = pending.result(timeout=60)
    assert counts(report) == (1, 0, 1, 0, 0)
    [ada] = contacts(container, workspace)
    assert (ada.id, ada.first_name) == (contact.id, "Ada")


def wait_for_lock_waiter(container: Container) -> None:
    """Return once another PostgreSQL session waits for a lock (the import, on ours)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with container.db.read() as conn:
            if conn.exec_driver_sql("SELECT count(*) FROM pg_locks WHERE NOT granted").scalar_one():
                return
        time.sleep(0.02)
    raise AssertionError("the import never waited for the concurrent writer")
