"""The shipped examples (`src/nurture/examples/`, also `examples/` at the repository root): the classic
journeys and what they need (templates, the re-engagement segment, the lead score), loaded into the
Example workspace on first start so `make run` shows them working."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nurture.domain.templates.model import BodyFormat, Category, Content, TemplateKind
from nurture.services.journeys.definitions import JourneyService
from nurture.services.scoring_models import ScoringService
from nurture.services.segments import SegmentService
from nurture.services.templates import TemplateInput, TemplateService

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass(frozen=True)
class Loaded:
    templates: int
    segments: int
    scoring_models: int
    journeys: list[str]


def journey_documents() -> dict[str, dict[str, Any]]:
    """The shipped journeys by file stem (`abandoned-cart`), as documents."""
    return {path.stem: _yaml(path) for path in sorted((EXAMPLES / "journeys").glob("*.yaml"))}


def load_examples(
    workspace_id: str,
    templates: TemplateService,
    segments: SegmentService,
    scoring: ScoringService,
    journeys: JourneyService,
) -> Loaded:
    setup = _yaml(EXAMPLES / "workspace.yaml")
    footer = str(setup["footer"])
    for item in setup["templates"]:
        body = f"{item['body']}\n{footer}"
        content = Content(subject=item["subject"], body_format=BodyFormat.HTML, body=body)
        templates.create(
            workspace_id, TemplateInput(item["name"], TemplateKind.EMAIL, Category.MARKETING, content)
        )
    for segment in setup["segments"]:
        segments.create(workspace_id, segment)
    for model in setup["scoring_models"]:
        scoring.create(workspace_id, model)
    names = [journeys.apply(workspace_id, document).journey.name for document in journey_documents().values()]
    return Loaded(len(setup["templates"]), len(setup["segments"]), len(setup["scoring_models"]), names)


def _yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded
