"""The journey document: what starts it, who may enter and how often, its nodes and edges, what ends
runs early and what counts as a conversion. Written as YAML or JSON, read by `parse_journey`."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from nurture.domain.conditions.nodes import Condition, NameStr, PropertyFilter
from nurture.domain.conditions.values import Strict
from nurture.domain.journeys.durations import Duration
from nurture.domain.journeys.nodes import Node, NodeId, PortName
from nurture.domain.journeys.triggers import Trigger

_CORRELATION = r"^properties(?:\.[^.\s][^.]*)+$"


class Reentry(StrEnum):
    ONCE = "once"  # once ever
    AFTER = "after"  # again once `reentry_after` has passed since the last entry
    ALWAYS = "always"  # every time the trigger fires (still at most one active run, see below)


class Entry(Strict):
    """Who may enter, and how often. `correlation_key` (a path into the trigger event's properties,
    e.g. `properties.cart_id`) allows one active run per key instead of one per contact."""

    condition: Condition | None = None
    reentry: Reentry = Reentry.ONCE
    reentry_after: Duration | None = None
    correlation_key: str | None = Field(default=None, pattern=_CORRELATION, max_length=200)

    @model_validator(mode="after")
    def _after(self) -> Entry:
        if (self.reentry is Reentry.AFTER) != (self.reentry_after is not None):
            raise ValueError("reentry: after needs reentry_after (e.g. 30d), and only it")
        return self


class ExitCriterion(Strict):
    """Ends a run at once, also while it waits: the contact performs `event` (with the run's
    correlation key when `match_correlation`), or no longer meets `condition`'s opposite — i.e. the
    run ends when `condition` becomes true."""

    event: NameStr | None = None
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    match_correlation: bool = True
    condition: Condition | None = None

    @model_validator(mode="after")
    def _one(self) -> ExitCriterion:
        if (self.event is None) == (self.condition is None):
            raise ValueError("give either event or condition")
        return self


class GoalSettings(Strict):
    """A conversion: the contact performs `event` (or meets `condition`) within `within` of entering.
    Reaching it ends the run when `exit_on_goal`."""

    event: NameStr | None = None
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    condition: Condition | None = None
    within: Duration
    exit_on_goal: bool = True

    @model_validator(mode="after")
    def _one(self) -> GoalSettings:
        if (self.event is None) == (self.condition is None):
            raise ValueError("give either event or condition")
        return self


class Category(StrEnum):
    MARKETING = "marketing"  # unsubscribing from the channel exits the run
    TRANSACTIONAL = "transactional"


class Edge(Strict):
    from_node: NodeId = Field(alias="from")
    to: NodeId
    port: PortName = "next"


class Journey(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    category: Category = Category.MARKETING
    trigger: Trigger
    entry: Entry = Field(default_factory=Entry)
    nodes: list[Node] = Field(min_length=1, max_length=500)
    edges: list[Edge] = Field(default_factory=list, max_length=2000)
    exit: list[ExitCriterion] = Field(default_factory=list, max_length=20)
    goal: GoalSettings | None = None

    @field_validator("nodes")
    @classmethod
    def _unique_ids(cls, nodes: list[Node]) -> list[Node]:
        seen: set[str] = set()
        for node in nodes:
            if node.id in seen:
                raise ValueError(f"two nodes have the id {node.id!r}: node ids must be unique")
            seen.add(node.id)
        return nodes

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)
