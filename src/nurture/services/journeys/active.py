"""The parsed journeys of each workspace, per process: documents are parsed once per version, and the
workspace's list of active journeys (and what they read, `JourneyPlan`) is rebuilt only when a
journey changed (one cheap query per batch tells)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Connection

from nurture.domain.journeys.entry import JourneyPlan
from nurture.domain.journeys.parsing import parse_journey
from nurture.domain.journeys.step import Definition
from nurture.store import journeys as store


@dataclass(frozen=True)
class ActiveSet:
    stamp: tuple[tuple[str, str, int], ...]
    definitions: list[Definition]  # the published version of each active journey
    plan: JourneyPlan


class ActiveJourneys:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parsed: dict[tuple[str, str, int], Definition] = {}
        self._active: dict[str, ActiveSet] = {}

    def definition(
        self, conn: Connection, workspace_id: str, journey_id: str, version: int
    ) -> Definition | None:
        key = (workspace_id, journey_id, version)
        with self._lock:
            found = self._parsed.get(key)
        if found is not None:
            return found
        document = store.version_document(conn, workspace_id, journey_id, version)
        if document is None:
            return None
        journey, graph = parse_journey(document)
        found = Definition(journey, graph, journey_id, version)
        with self._lock:
            self._parsed[key] = found
        return found

    def active(self, conn: Connection, workspace_id: str) -> ActiveSet:
        stamp = store.workspace_stamp(conn, workspace_id)
        with self._lock:
            found = self._active.get(workspace_id)
        if found is not None and found.stamp == stamp:
            return found
        definitions = []
        for row in store.list_journeys(conn, workspace_id, statuses=["active"]):
            definition = self.definition(conn, workspace_id, row.id, row.version)
            if definition is not None:
                definitions.append(definition)
        found = ActiveSet(stamp, definitions, JourneyPlan.of(d.journey for d in definitions))
        with self._lock:
            self._active[workspace_id] = found
        return found


# The process's one cache: the composition root hands it to the workers, and scoring asks it whether
# a score move matters to a journey.
ACTIVE = ActiveJourneys()
