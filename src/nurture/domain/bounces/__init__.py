"""Bounce and complaint classification (issue 6): one classifier for every bounce path."""

from __future__ import annotations

from nurture.domain.bounces.classify import classify_reply, classify_report, outcome
from nurture.domain.bounces.model import Classification, Kind, Recipient, strongest

__all__ = ["Classification", "Kind", "Recipient", "classify_reply", "classify_report", "outcome", "strongest"]
