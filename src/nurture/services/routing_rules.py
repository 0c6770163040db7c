"""Assignment rules (ordered), the stages at which contacts are routed, and routing on demand."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from nurture.domain.audiences import check_name
from nurture.domain.errors import Conflict, Invalid, NotFound
from nurture.domain.lifecycle import check_stage
from nurture.domain.routing import RoutingRule, parse_rule, referenced_owners
from nurture.services import catalog, routing
from nurture.services.audience_refs import existing_contact
from nurture.services.clock import Clock
from nurture.services.lifecycle import stages
from nurture.store import owners as owner_store
from nurture.store import routing as rule_store
from nurture.store.db import Database
from nurture.store.ids import new_id

MAX_RULES = 100


class RoutingService:
    """Assignment rules (ordered), the stages that trigger assignment, and assignment on demand."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def rules(self, workspace_id: str) -> builtins.list[RoutingRule]:
        with self.db.read() as conn:
            return rule_store.rules(conn, workspace_id)

    def rule(self, workspace_id: str, rule_id: str) -> RoutingRule:
        with self.db.read() as conn:
            return _rule(conn, workspace_id, rule_id)

    def create_rule(
        self, workspace_id: str, name: Any, definition: Any, position: int | None = None
    ) -> RoutingRule:
        checked = check_name(name)
        now = self.clock.now()
        with self.db.write() as conn:
            stored = _checked_definition(conn, workspace_id, definition)
            if rule_store.rule_by_name(conn, workspace_id, checked) is not None:
                raise Conflict(f"a routing rule named {checked!r} exists already")
            if len(rule_store.rules(conn, workspace_id)) >= MAX_RULES:
                raise Conflict(f"a workspace has at most {MAX_RULES} routing rules")
            place = (
                _position(position) if position is not None else rule_store.next_position(conn, workspace_id)
            )
            row = RoutingRule(new_id(), checked, place, stored, None, now, now)
            rule_store.insert_rule(conn, workspace_id, row)
        return row

    def change_rule(self, workspace_id: str, rule_id: str, changes: Mapping[str, Any]) -> RoutingRule:
        """Change name, position or definition (only the given keys)."""
        now = self.clock.now()
        with self.db.write() as conn:
            current = _rule(conn, workspace_id, rule_id)
            name = check_name(changes["name"]) if changes.get("name") is not None else current.name
            other = rule_store.rule_by_name(conn, workspace_id, name)
            if other is not None and other != rule_id:
                raise Conflict(f"a routing rule named {name!r} exists already")
            place = (
                _position(changes["position"]) if changes.get("position") is not None else current.position
            )
            definition = current.definition
            if changes.get("definition") is not None:
                definition = _checked_definition(conn, workspace_id, changes["definition"])
            rule_store.change_rule(
                conn, workspace_id, rule_id, name=name, position=place, definition=definition, now=now
            )
            return _rule(conn, workspace_id, rule_id)

    def delete_rule(self, workspace_id: str, rule_id: str) -> None:
        with self.db.write() as conn:
            _rule(conn, workspace_id, rule_id)
            rule_store.delete_rule(conn, workspace_id, rule_id)

    def settings(self, workspace_id: str) -> tuple[str, ...]:
        with self.db.read() as conn:
            return routing.assign_at_stages(conn, workspace_id)

    def set_settings(self, workspace_id: str, assign_at_stages: Sequence[Any]) -> tuple[str, ...]:
        with self.db.write() as conn:
            known = stages(conn, workspace_id)
            checked: builtins.list[str] = []
            for index, stage in enumerate(assign_at_stages):
                field = f"assign_at_stages[{index}]"
                if not isinstance(stage, str):
                    raise Invalid.one(field, "must be a stage name")
                checked.append(check_stage(stage, known, field))
            unique = tuple(dict.fromkeys(checked))
            rule_store.set_assign_at_stages(conn, workspace_id, unique, self.clock.now())
            return unique

    def assign(self, workspace_id: str, contact_id: str, *, force: bool = False) -> routing.Assignment:
        """Run the rules for one contact now (POST …/assign)."""
        now = self.clock.now()
        with self.db.write() as conn:
            found = existing_contact(conn, workspace_id, contact_id, follow_merges=False)
            return routing.route(conn, workspace_id, found, now, {"trigger": "api"}, force=force)


def _position(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000_000:
        raise Invalid.one("position", "must be a whole number from 0 to 1000000")
    return value


def _rule(conn: Connection, workspace_id: str, rule_id: str) -> RoutingRule:
    found = rule_store.get_rule(conn, workspace_id, rule_id)
    if found is None:
        raise NotFound(f"no routing rule {rule_id} in this workspace")
    return found


def _checked_definition(conn: Connection, workspace_id: str, definition: Any) -> dict[str, Any]:
    """The definition as stored, once valid, naming only the workspace's owners, and its condition
    reading only what the data catalog knows (as segments and journeys)."""
    rule, condition = parse_rule(definition)
    if condition is not None:
        catalog.check(conn, workspace_id, condition, "definition.condition")
    owners = owner_store.all_owners(conn, workspace_id)
    for field, owner_id in referenced_owners(rule):
        if owner_id not in owners:
            raise Invalid.one(field, f"no owner {owner_id} in this workspace")
    return rule.model_dump(mode="json", exclude_none=True)
