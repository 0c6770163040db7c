"""The layer rules of STYLE.md, checked on the import graph of the package."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "nurture"
DOMAIN_ALLOWED_THIRD_PARTY = {"pydantic", "orjson", "phonenumbers", "email_validator"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def test_domain_imports_only_domain_and_pure_libraries() -> None:
    for path in _modules("domain"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "nurture":
                assert name.startswith("nurture.domain"), f"{path.name} imports {name}"
            else:
                assert top not in {
                    "sqlalchemy",
                    "fastapi",
                    "starlette",
                    "alembic",
                    "psycopg",
                    "typer",
                    "httpx",
                }, f"{path.name} imports {name}"


def test_domain_never_reads_the_clock() -> None:
    for path in _modules("domain"):
        source = path.read_text()
        for call in ("datetime.now(", "datetime.utcnow(", "time.time(", "date.today("):
            assert call not in source, f"{path.name} calls {call}"


def test_edges_never_import_store_or_each_other() -> None:
    edges = ("api", "cli", "worker", "console")
    for layer in edges:
        if not (PACKAGE / layer).exists():
            continue
        for path in _modules(layer):
            for name in _imports(path):
                assert not name.startswith("nurture.store"), f"{layer}/{path.name} imports {name}"
                for other in edges:
                    if other != layer:
                        assert not name.startswith(f"nurture.{other}"), f"{layer}/{path.name} imports {name}"


def test_services_do_not_import_the_edges() -> None:
    for path in _modules("services"):
        for name in _imports(path):
            for edge in ("nurture.api", "nurture.cli", "nurture.bootstrap"):
                assert not name.startswith(edge), f"services/{path.name} imports {name}"


def test_store_does_not_import_services_or_edges() -> None:
    for path in _modules("store"):
        for name in _imports(path):
            for upper in ("nurture.services", "nurture.api", "nurture.cli", "nurture.bootstrap"):
                assert not name.startswith(upper), f"store/{path.name} imports {name}"


def test_only_the_store_writes_sql() -> None:
    """Services hold a `Connection` to pass to the store, never SQL of their own."""
    for path in _modules("services"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sqlalchemy"):
                names = {alias.name for alias in node.names}
                where = f"services/{path.name} imports {sorted(names)} from {node.module}"
                assert node.module == "sqlalchemy", where
                assert names <= {"Connection"}, where
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("sqlalchemy") for a in node.names), path.name


def test_channels_import_only_the_domain() -> None:
    """Channels are adapters the dispatcher calls: no database, services or edges behind them."""
    for path in _modules("channels"):
        for name in _imports(path):
            if name.startswith("nurture."):
                assert name.startswith(("nurture.domain", "nurture.channels")), (
                    f"channels/{path.name} imports {name}"
                )
