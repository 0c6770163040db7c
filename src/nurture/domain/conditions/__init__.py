"""The one condition language: typed nodes, operators, parsing with error paths, and references."""

from __future__ import annotations

from nurture.domain.conditions.nodes import Condition
from nurture.domain.conditions.parsing import condition_schema, parse_condition
from nurture.domain.conditions.references import References, references

__all__ = ["Condition", "References", "condition_schema", "parse_condition", "references"]
