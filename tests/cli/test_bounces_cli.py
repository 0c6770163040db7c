"""`nurture bounces classify` and `nurture bounces ingest`, run as real processes."""

from __future__ import annotations

import json
from pathlib import Path

from nurture.bootstrap import build
from nurture.settings import Settings
from tests.cli.test_cli import Cli, acme, nurture
from tests.domain.bounce_corpus import corpus_dir
from tests.services.deliveries import dsn, sent_email, suppression

__all__ = ["acme", "nurture"]  # fixtures shared with the other CLI tests


def test_classify_prints_each_files_recipients_as_json(nurture: Cli) -> None:
    mail = corpus_dir() / "mail"
    files = [str(mail / "arf-16.eml"), str(mail / "lhost-gmail-01.eml"), str(mail / "lhost-postfix-03.eml")]
    result = nurture("bounces", "classify", *files, "--json")
    assert result.code == 0, result.stderr
    arf, gmail, postfix = result.json()
    assert arf["file"] == "arf-16.eml"
    assert [r["address"] for r in arf["recipients"]][:2] == ["kijitora@example.com", "sironeko@example.com"]
    assert {(r["kind"], r["feedback_type"]) for r in arf["recipients"]} == {("complaint", "abuse")}
    [recipient] = gmail["recipients"]
    assert {k: recipient[k] for k in ("address", "status", "reply_code", "kind", "reason")} == {
        "address": "userunknown@example.jp",
        "status": "5.1.1",
        "reply_code": "550",
        "kind": "hard",
        "reason": "userunknown",
    }
    assert "feedback_type" not in recipient  # complaints only
    assert postfix["recipients"][0]["kind"] == "soft"  # "Unknown user" after DATA is a filter
    table = nurture("bounces", "classify", *files)
    assert table.code == 0
    assert "userunknown@example.jp" in table.said


def test_classify_names_a_file_it_cannot_read(nurture: Cli, tmp_path: Path) -> None:
    result = nurture("bounces", "classify", str(tmp_path / "missing.eml"))
    assert result.code == 1
    assert "missing.eml: No such file or directory" in result.said


def test_ingest_applies_a_report_to_the_workspace(nurture: Cli, acme: dict[str, str], tmp_path: Path) -> None:
    container = build(Settings(database_url=nurture.url))
    try:
        _, send = sent_email(container, acme["id"], "ann@example.com")
        report = tmp_path / "bounce.eml"
        report.write_bytes(dsn(send, "ann@example.com", "5.1.1", "550 5.1.1 User unknown"))
        empty = tmp_path / "empty.eml"
        empty.write_bytes(b"")
        result = nurture("bounces", "ingest", str(report), "--workspace", acme["id"], "--json")
        assert result.code == 0, result.stderr
        assert json.loads(result.stdout)[0] | {"unknown_send_ids": []} == {
            "file": "bounce.eml",
            "recorded": 1,
            "suppressed": 1,
            "duplicates": 0,
            "without_send_id": 0,
            "unknown_send_ids": [],
        }
        assert suppression(container, acme["id"], "ann@example.com") == "hard_bounce"
        again = nurture("bounces", "ingest", str(report), "--workspace", acme["id"])
        assert "0 recorded, 0 suppressed, 1 already recorded" in again.said
        bad = nurture("bounces", "ingest", str(empty), "--workspace", acme["id"])
        assert bad.code == 1
        assert f"{empty}: is not a readable bounce or complaint report: the report is empty" in bad.said
    finally:
        container.close()
