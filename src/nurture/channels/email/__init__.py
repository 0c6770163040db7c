"""The email channel: MIME building (`mime`), DKIM signing (`signing`), SMTP URLs (`smtp_url`) and
delivery over SMTP (`smtp`). Independent of the database: the dispatcher hands it `OutgoingEmail`s
and gets `DeliveryResult`s back through `EmailTransport`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from nurture.domain.messages.delivery import DeliveryResult, OutgoingEmail, SenderConfig


class EmailTransport(Protocol):
    """What the (synchronous, threaded) dispatcher calls. One result per email, in order; a single
    message's failure is in its result, never raised. Safe to call from several threads at once."""

    def send_many(self, sender: SenderConfig, emails: Sequence[OutgoingEmail]) -> list[DeliveryResult]: ...

    def close(self) -> None: ...
