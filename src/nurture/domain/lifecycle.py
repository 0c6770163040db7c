"""Lifecycle stages: where a contact is on the way from subscriber to customer.

The stages are an ordered list per workspace (DEFAULT_STAGES unless configured); scoring thresholds
and routing move contacts forward along it, people and the API may set any stage.
"""

from __future__ import annotations

from collections.abc import Sequence

from nurture.domain.errors import FieldError, Invalid

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


MAX_STAGES = 30
MAX_STAGE_LENGTH = 64  # contacts.lifecycle_stage


def parse_stages(value: object, field: str = "stages") -> tuple[str, ...]:
    """A workspace's stage list: 1 to MAX_STAGES distinct, non-blank names, first to last."""
    if not isinstance(value, list) or not value:
        raise Invalid.one(field, "must be a non-empty list of stage names, first stage first")
    if len(value) > MAX_STAGES:
        raise Invalid.one(field, f"too many: at most {MAX_STAGES} stages")
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, name in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            errors.append(FieldError(where, "must be a non-blank name without surrounding spaces"))
        elif len(name) > MAX_STAGE_LENGTH:
            errors.append(FieldError(where, f"too long: at most {MAX_STAGE_LENGTH} characters"))
        elif name in seen:
            errors.append(FieldError(where, f"duplicate stage {name!r}"))
        else:
            seen.add(name)
    if errors:
        raise Invalid(errors)
    return tuple(value)
