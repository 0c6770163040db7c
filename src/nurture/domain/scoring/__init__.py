"""Lead scoring: model definitions (rules, decay, thresholds) and the pure score arithmetic."""

from __future__ import annotations

from nurture.domain.scoring.definition import (
    MANUAL_RULE,
    ConditionRule,
    EventRule,
    ScoringModel,
    Threshold,
    check_against_workspace,
    model_from_stored,
    parse_model,
    scoring_model_schema,
)
from nurture.domain.scoring.score import (
    Crossing,
    PointsKind,
    RuleBreakdown,
    ScoreChange,
    allowance,
    breakdown,
    condition_delta,
    crossings,
    expires_at,
    next_recompute,
    oldest_counted,
    rounded,
    rule_matches,
    score_at,
    value_at,
)

__all__ = [
    "MANUAL_RULE",
    "ConditionRule",
    "Crossing",
    "EventRule",
    "PointsKind",
    "RuleBreakdown",
    "ScoreChange",
    "ScoringModel",
    "Threshold",
    "allowance",
    "breakdown",
    "check_against_workspace",
    "condition_delta",
    "crossings",
    "expires_at",
    "model_from_stored",
    "next_recompute",
    "oldest_counted",
    "parse_model",
    "rounded",
    "rule_matches",
    "score_at",
    "scoring_model_schema",
    "value_at",
]
