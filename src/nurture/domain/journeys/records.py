"""A journey as kept: its identity, state and the version new runs start on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StoredJourney:
    id: str
    name: str
    status: str  # active | paused | archived
    version: int
    created_at: datetime
    updated_at: datetime
