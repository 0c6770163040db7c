"""Accuracy of the bounce classifier on 291 real reports (issue 6): the kind of each file, every
complaint's feedback type, and the status where the report carries one."""

from __future__ import annotations

from nurture.domain.bounces import Kind, classify_report, strongest
from nurture.domain.bounces.model import STRENGTH
from tests.domain.bounce_corpus import corpus_files, expected

MIN_AGREEMENT = 0.95


def _is_label(status: str) -> bool:
    """`x.0.9xx` codes are the collection's own labels for reports that carry no status."""
    _, subject, detail = status.split(".")
    return subject == "0" and int(detail) >= 900


def test_kind_agrees_with_the_expected_reading_on_at_least_95_percent_of_files() -> None:
    readings = expected()
    files = {path.name: path for path in corpus_files()}
    assert set(readings) <= set(files)
    disagreements = []
    for name, recipients in sorted(readings.items()):
        want = max((Kind(r["kind"]) for r in recipients), key=STRENGTH.__getitem__)
        got = classify_report(files[name].read_bytes())
        if strongest(got) != want:
            shown = [(r.address, r.reason, r.status, (r.diagnostic or "")[:120]) for r in got]
            disagreements.append(f"{name}: expected {want}, got {strongest(got)} {shown}")
    agreeing = len(readings) - len(disagreements)
    report = f"{agreeing}/{len(readings)} files agree on kind\n" + "\n".join(disagreements)
    print(report)
    assert agreeing >= MIN_AGREEMENT * len(readings), report


def test_every_complaint_gets_its_feedback_type() -> None:
    misses = []
    for name, recipients in sorted(expected().items()):
        complaints = [r for r in recipients if r["kind"] == "complaint"]
        if not complaints:
            continue
        got = classify_report((corpus_files()[0].parent / name).read_bytes())
        assert all(r.kind is Kind.COMPLAINT for r in got), name
        assert len(got) == len(complaints), name
        for want, have in zip(complaints, got, strict=True):
            # an empty expectation (an SES complaint mailed as JSON) accepts the type the report gives
            if want["feedback_type"] and want["feedback_type"] != have.feedback_type:
                misses.append(f"{name}: expected {want['feedback_type']}, got {have.feedback_type}")
    assert not misses, "\n".join(misses)


def test_status_matches_where_the_report_carries_one() -> None:
    compared, misses = 0, []
    for name, recipients in sorted(expected().items()):
        got = classify_report((corpus_files()[0].parent / name).read_bytes())
        for index, want in enumerate(recipients):
            if not want["status"] or _is_label(want["status"]):
                continue
            compared += 1
            have = got[index].status if index < len(got) else None
            if have != want["status"]:
                misses.append(f"{name} #{index}: expected {want['status']}, got {have}")
    report = f"{compared - len(misses)}/{compared} statuses match\n" + "\n".join(misses)
    print(report)
    assert compared - len(misses) >= MIN_AGREEMENT * compared, report


def test_every_corpus_file_gives_recipients_with_an_address_or_a_redacted_complaint() -> None:
    """The held-back half too: no file is unreadable, and only complaints may lack the address."""
    for path in corpus_files():
        recipients = classify_report(path.read_bytes())
        assert recipients, path.name
        for recipient in recipients:
            assert recipient.kind is not Kind.UNKNOWN, (path.name, recipient.reason)
            assert recipient.address or recipient.kind is Kind.COMPLAINT, path.name
            assert recipient.feedback_type is None or recipient.kind is Kind.COMPLAINT, path.name
