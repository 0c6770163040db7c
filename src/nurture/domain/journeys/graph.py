"""Graph checks of a journey: one entry (the first node listed), no dangling edges, every node
reachable, loops only through a wait. Errors name the node (`nodes[welcome]`) or edge
(`edges[3].to`) and the field."""

from __future__ import annotations

from collections import defaultdict

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.journeys.definition import Journey
from nurture.domain.journeys.nodes import WAITS, Branch, Node, Send, ports


def node_path(node_id: str, field: str = "") -> str:
    return f"nodes[{node_id}]" + (f".{field}" if field else "")


class Graph:
    """The checked graph: `entry` and, for each node, where each port leads."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self.nodes: dict[str, Node] = {node.id: node for node in journey.nodes}
        self.next: dict[str, dict[str, str]] = defaultdict(dict)
        self.entry = journey.nodes[0].id  # the one entry: the first node listed
        errors = self._edges()
        errors += self._reachable(self.entry)
        errors += self._loops()
        errors += self._message_tests()
        if errors:
            raise Invalid(errors)

    def follow(self, node_id: str, port: str) -> str | None:
        """The node `port` of `node_id` leads to; None ends the run."""
        return self.next.get(node_id, {}).get(port)

    def _edges(self) -> list[FieldError]:
        errors = []
        for index, edge in enumerate(self.journey.edges):
            where = f"edges[{index}]"
            source = self.nodes.get(edge.from_node)
            if source is None:
                errors.append(FieldError(f"{where}.from", f"no node has the id {edge.from_node!r}"))
                continue
            if edge.to not in self.nodes:
                errors.append(FieldError(f"{where}.to", f"no node has the id {edge.to!r}"))
                continue
            allowed = ports(source)
            if edge.port not in allowed:
                said = ", ".join(allowed) if allowed else "none (an exit ends the run)"
                errors.append(
                    FieldError(
                        f"{where}.port",
                        f"node {source.id!r} ({source.type}) has no port {edge.port!r}; its ports: {said}",
                    )
                )
                continue
            taken = self.next[edge.from_node].get(edge.port)
            if taken is not None:
                errors.append(
                    FieldError(where, f"port {edge.port!r} of node {source.id!r} already leads to {taken!r}")
                )
                continue
            self.next[edge.from_node][edge.port] = edge.to
        return errors

    def _reachable(self, entry: str) -> list[FieldError]:
        seen = {entry}
        stack = [entry]
        while stack:
            for to in self.next.get(stack.pop(), {}).values():
                if to not in seen:
                    seen.add(to)
                    stack.append(to)
        return [
            FieldError(
                node_path(node.id),
                f"unreachable from the entry {entry!r} (the first node): a second entry or an island",
            )
            for node in self.journey.nodes
            if node.id not in seen
        ]

    def _loops(self) -> list[FieldError]:
        """Edges leaving a wait are cut; whatever cycle remains would spin without waiting."""
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        errors: list[FieldError] = []

        def visit(node_id: str, path: list[str]) -> None:
            state[node_id] = 1
            path.append(node_id)
            if not isinstance(self.nodes[node_id], WAITS):
                for to in self.next.get(node_id, {}).values():
                    if state.get(to) == 1:
                        loop = " → ".join([*path[path.index(to) :], to])
                        errors.append(FieldError(node_path(to), f"loop without a wait: {loop}"))
                    elif to not in state:
                        visit(to, path)
            path.pop()
            state[node_id] = 2

        for node in self.journey.nodes:
            if node.id not in state:
                visit(node.id, [])
        return errors

    def _message_tests(self) -> list[FieldError]:
        errors = []
        for node in self.journey.nodes:
            if isinstance(node, Branch) and node.message is not None:
                target = self.nodes.get(node.message.node)
                if not isinstance(target, Send) or target.channel.value == "webhook":
                    errors.append(
                        FieldError(
                            node_path(node.id, "message.node"),
                            f"{node.message.node!r} is not an email or SMS send node of this journey",
                        )
                    )
        return errors
