"""Where the real-world bounce corpus lives (`../shared/corpus/bounces` beside the repository, else the
copy kept in `tests/data/bounce-corpus` so a clone anywhere has it) and its expected readings; shared by
the accuracy and fuzz tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

_REPOSITORY = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path:
    """The corpus folder: `NURTURE_BOUNCE_CORPUS`, or `shared/corpus/bounces` beside the repository
    (a git worktree sits one folder deeper, so its grandparent is tried too)."""
    candidates = [Path(os.environ["NURTURE_BOUNCE_CORPUS"])] if "NURTURE_BOUNCE_CORPUS" in os.environ else []
    candidates += [
        base / "shared" / "corpus" / "bounces" for base in (_REPOSITORY.parent, _REPOSITORY.parents[1])
    ]
    candidates.append(_REPOSITORY / "tests" / "data" / "bounce-corpus")
    for candidate in candidates:
        if (candidate / "mail").is_dir():
            return candidate
    raise AssertionError(f"bounce corpus not found; looked in {[str(c) for c in candidates]}")


def corpus_files() -> list[Path]:
    return sorted((corpus_dir() / "mail").glob("*.eml"))


def expected() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads((corpus_dir() / "expected.json").read_text())
    return data
