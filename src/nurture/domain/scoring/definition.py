"""A scoring model: rules that grant points, how points decay, and thresholds that move the lifecycle stage.

A model is a JSON document, validated like a condition: every error names the path of the bad value,
e.g. `rules[2].cap.days`. `scoring_model_schema()` is its published JSON Schema.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from nurture.domain.conditions.nodes import Condition, NameStr, PropertyFilter
from nurture.domain.conditions.parsing import field_errors, parse_condition
from nurture.domain.conditions.references import references
from nurture.domain.conditions.values import Strict
from nurture.domain.errors import FieldError, Invalid

MANUAL_RULE = "manual"  # the rule id of points added by hand
SCORED_EVENT_TYPES = ("track", "page", "screen")  # the events event rules match by name
MAX_POINTS = 1_000_000.0
MAX_DAYS = 3650

RuleId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
StageName = Annotated[str, Field(min_length=1, max_length=64)]
Number = Annotated[float, Field(strict=True)]  # a JSON number: never a string, never a boolean


def _points(value: float) -> float:
    if not math.isfinite(value) or abs(value) > MAX_POINTS:
        raise ValueError(f"must be a finite number between -{MAX_POINTS:.0f} and {MAX_POINTS:.0f}")
    if value == 0:
        raise ValueError("must not be 0 (a rule that grants nothing)")
    return value


class Frequency(StrEnum):
    EVERY = "every"  # every occurrence scores (within the cap)
    ONCE = "once"  # the first occurrence ever scores, later ones never


class Cap(Strict):
    """At most `max_points` points, or `max_times` grants, in any `days`-day period (rolling)."""

    max_points: Number | None = Field(default=None, gt=0, le=MAX_POINTS)
    max_times: int | None = Field(default=None, strict=True, ge=1, le=1_000_000)
    days: int = Field(strict=True, ge=1, le=MAX_DAYS)

    @model_validator(mode="after")
    def _one_limit(self) -> Cap:
        if (self.max_points is None) == (self.max_times is None):
            raise ValueError("give exactly one of max_points and max_times")
        return self


class EventRule(Strict):
    """Points for each `name` event whose properties pass `where` (every time, or once ever)."""

    type: Literal["event"] = "event"
    id: RuleId
    points: Number
    name: NameStr
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    frequency: Frequency = Frequency.EVERY
    cap: Cap | None = None

    @field_validator("points")
    @classmethod
    def _points(cls, value: float) -> float:
        return _points(value)

    @model_validator(mode="after")
    def _cap_needs_every(self) -> EventRule:
        if self.cap is not None and self.frequency is Frequency.ONCE:
            raise ValueError("a once rule scores at most once: remove cap or use frequency every")
        return self


class ConditionRule(Strict):
    """Points while the contact meets `condition`; taken back when it stops meeting it."""

    type: Literal["condition"] = "condition"
    id: RuleId
    points: Number
    condition: Condition

    @field_validator("points")
    @classmethod
    def _points(cls, value: float) -> float:
        return _points(value)


Rule = Annotated[EventRule | ConditionRule, Field(discriminator="type")]


class NoDecay(Strict):
    kind: Literal["none"] = "none"


class HalfLife(Strict):
    """Event and manual points lose half their value every `days` days."""

    kind: Literal["half_life"] = "half_life"
    days: Number = Field(gt=0, le=MAX_DAYS)


class Expire(Strict):
    """Event and manual points count in full for `days` days, then not at all."""

    kind: Literal["expire"] = "expire"
    days: int = Field(strict=True, ge=1, le=MAX_DAYS)


Decay = Annotated[NoDecay | HalfLife | Expire, Field(discriminator="kind")]


class Threshold(Strict):
    """Reaching `score` moves the contact forward to `stage` (never back)."""

    score: Number
    stage: StageName

    @field_validator("score")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value) or abs(value) > MAX_POINTS:
            raise ValueError("must be a finite number")
        return value


class ScoringModel(Strict):
    """A model's definition as the API takes it (its id is given by nurture)."""

    name: NameStr
    description: str | None = Field(default=None, max_length=2000)
    rules: list[Rule] = Field(max_length=200)
    decay: Decay = Field(default_factory=NoDecay)
    thresholds: list[Threshold] = Field(default_factory=list, max_length=20)

    def rule(self, rule_id: str) -> EventRule | ConditionRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def event_rules(self) -> list[EventRule]:
        return [r for r in self.rules if isinstance(r, EventRule)]

    def condition_rules(self) -> list[ConditionRule]:
        return [r for r in self.rules if isinstance(r, ConditionRule)]

    def definition(self) -> dict[str, Any]:
        """The stored document (the `definition` column): everything but the name."""
        return self.model_dump(mode="json", exclude={"name"})

    def score_models(self) -> set[str]:
        """The other models whose scores this model's condition rules read."""
        found: set[str] = set()
        for rule in self.condition_rules():
            found |= references(rule.condition).score_models
        return found


_ADAPTER: TypeAdapter[ScoringModel] = TypeAdapter(ScoringModel)


def scoring_model_schema() -> dict[str, Any]:
    """The published JSON Schema of a scoring model."""
    return _ADAPTER.json_schema()


def parse_model(data: Any) -> ScoringModel:
    """Validate a model document; `Invalid` names each bad value's path (`rules[1].cap.days`)."""
    if not isinstance(data, Mapping):
        raise Invalid.one("body", "must be a JSON object")
    try:
        model = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise Invalid(field_errors(exc, data, "")) from None
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, rule in enumerate(model.rules):
        if rule.id == MANUAL_RULE:
            errors.append(FieldError(f"rules[{index}].id", f"{MANUAL_RULE!r} is reserved for manual points"))
        elif rule.id in seen:
            errors.append(FieldError(f"rules[{index}].id", f"duplicate rule id {rule.id!r}"))
        seen.add(rule.id)
        if isinstance(rule, ConditionRule):
            try:  # the depth limit and other checks of the condition language
                parse_condition(data["rules"][index]["condition"], f"rules[{index}].condition")
            except Invalid as invalid:
                errors.extend(invalid.errors)
    scores = [t.score for t in model.thresholds]
    for index, threshold in enumerate(model.thresholds):
        if scores.index(threshold.score) != index:
            errors.append(FieldError(f"thresholds[{index}].score", "two thresholds at the same score"))
    if errors:
        raise Invalid(errors)
    return model


def model_from_stored(name: str, definition: Mapping[str, Any]) -> ScoringModel:
    """A model read back from the database (validated when it was written)."""
    return _ADAPTER.validate_python({"name": name, **definition})


def check_against_workspace(
    model: ScoringModel, model_id: str | None, stages: Sequence[str], models: Mapping[str, ScoringModel]
) -> None:
    """Checks that need the workspace: threshold stages exist and go forward as the score rises;
    condition rules read only existing models, never this one, and no chain of models loops."""
    errors: list[FieldError] = []
    ordered = sorted(enumerate(model.thresholds), key=lambda item: item[1].score)
    previous: int | None = None
    for index, threshold in ordered:
        if threshold.stage not in stages:
            errors.append(
                FieldError(
                    f"thresholds[{index}].stage",
                    f"unknown stage {threshold.stage!r}: use one of {', '.join(stages)}",
                )
            )
            continue
        position = stages.index(threshold.stage)
        if previous is not None and position < previous:
            errors.append(
                FieldError(
                    f"thresholds[{index}].stage",
                    "a higher threshold must not lead to an earlier stage",
                )
            )
        previous = position
    for index, rule in enumerate(model.rules):
        if not isinstance(rule, ConditionRule):
            continue
        for read in sorted(references(rule.condition).score_models):
            where = f"rules[{index}].condition"
            if model_id is not None and read == model_id:
                errors.append(FieldError(where, "a model's rules cannot read its own score"))
            elif read not in models:
                errors.append(FieldError(where, f"unknown scoring model {read!r}"))
            elif model_id is not None and _reads(models, read, model_id, set()):
                errors.append(FieldError(where, f"model {read!r} reads this model's score: a loop"))
    if errors:
        raise Invalid(errors)


def _reads(models: Mapping[str, ScoringModel], start: str, target: str, seen: set[str]) -> bool:
    """Whether `start`'s rules read `target`'s score, directly or through other models."""
    if start in seen or start not in models:
        return False
    seen.add(start)
    direct = models[start].score_models()
    return target in direct or any(_reads(models, other, target, seen) for other in direct)


MAX_REASON = 500


def check_manual_points(points: object, reason: object) -> tuple[float, str]:
    """Points added by hand: a non-zero JSON number within bounds, and why (required)."""
    errors: list[FieldError] = []
    if isinstance(points, bool) or not isinstance(points, int | float):
        errors.append(FieldError("points", "must be a number"))
    else:
        try:
            _points(float(points))
        except ValueError as exc:
            errors.append(FieldError("points", str(exc)))
    if not isinstance(reason, str) or not reason.strip():
        errors.append(FieldError("reason", "is required: say why the points are given"))
    elif len(reason) > MAX_REASON:
        errors.append(FieldError("reason", f"too long: at most {MAX_REASON} characters"))
    if errors:
        raise Invalid(errors)
    assert isinstance(points, int | float)
    assert isinstance(reason, str)
    return float(points), reason.strip()
