"""Lifecycle stages: where a contact is on the way from subscriber to customer.

The stages are an ordered list per workspace (DEFAULT_STAGES unless configured); scoring thresholds
and routing move contacts forward along it, people and the API may set any stage.
"""

from __future__ import annotations

from collections.abc import Sequence

from nurture.domain.errors import Invalid

DEFAULT_STAGES: tuple[str, ...] = ("subscriber", "lead", "mql", "sql", "opportunity", "customer")


def check_stage(stage: str, stages: Sequence[str], field: str = "lifecycle_stage") -> str:
    """`stage` if the workspace knows it, else Invalid naming `field` and the stages there are."""
    if stage not in stages:
        raise Invalid.one(field, f"unknown stage {stage!r}: use one of {', '.join(stages)}")
    return stage


def is_forward(current: str | None, target: str, stages: Sequence[str]) -> bool:
    """Whether moving from `current` (None: no stage yet) to `target` goes forward in `stages`.
    A stage the list no longer has counts as before every stage."""
    if current is None or current not in stages:
        return True
    return stages.index(target) > stages.index(current)
