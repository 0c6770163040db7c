"""The email benchmark's parts on a few messages: the sink counts what smtplib and the transport hand
it, the prepared messages parse, and every run checks that all its messages were accepted."""

from __future__ import annotations

from email import message_from_bytes, policy

from bench import email as email_bench


def test_pipeline_and_ceiling_deliver_everything_to_the_sink() -> None:
    with email_bench._sink() as sink:
        alone = email_bench._run(sink, 30, connections=2, procs=1, key=None)
        pooled = email_bench._run(sink, 30, connections=2, procs=2, key=email_bench._key())
        email_bench._init_worker(None)
        messages = email_bench._prepare(0, 12, signed=False)
        ceiling = email_bench._ceiling(sink, messages, connections=3)
        assert sink.stats() == (72, 2 + 2 + 3)
    assert (alone["emails"], pooled["emails"], ceiling["emails"]) == (30, 30, 12)
    assert pooled["signed"]
    parsed = message_from_bytes(messages[5].data, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["To"] == "person5@example.com"
    assert parsed["Subject"] == "Person5, your cart is waiting"
