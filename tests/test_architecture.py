"""The rules of the house that code can check: the narrow query layer and empty packages."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from db import queries

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_web_reaches_db_only_through_queries() -> None:
    for path in (ROOT / "web").rglob("*.py"):
        for name in _imports(path):
            if name.startswith("db") and name not in ("db", "db.queries"):
                assert name.startswith("db.queries."), f"{path.name} imports {name}"
            assert not name.startswith(("sqlmodel", "sqlalchemy", "alembic")), (
                f"{path.name}: {name}"
            )


def test_db_knows_nothing_of_http() -> None:
    for path in (ROOT / "db").rglob("*.py"):
        for name in _imports(path):
            assert not name.startswith(("web", "starlette", "jinja2", "uvicorn")), f"{path}: {name}"


def test_import_linter_contracts_hold() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_package_inits_stay_empty() -> None:
    assert (ROOT / "db" / "__init__.py").read_text() == ""
    assert (ROOT / "web" / "__init__.py").read_text() == ""


def test_queries_exports_are_explicit_and_real() -> None:
    assert sorted(queries.__all__) == sorted(set(queries.__all__))
    for name in queries.__all__:
        assert hasattr(queries, name), name


def _feature_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "db" / "queries").glob("*.py") if p.name != "__init__.py")


def test_each_query_feature_exports_its_own_names_once() -> None:
    seen: dict[str, str] = {}
    for path in _feature_modules():
        feature = getattr(queries, path.stem)
        assert isinstance(feature.__all__, list) and feature.__all__, path.name
        for name in feature.__all__:
            assert name not in seen, f"{name} in {seen.get(name)} and {path.stem}"
            seen[name] = path.stem
            assert getattr(queries, name) is getattr(feature, name), name


def test_query_features_never_open_a_transaction_by_hand() -> None:
    # One transaction helper: db.engine's reads/writes decorators.
    for path in _feature_modules():
        source = path.read_text("utf-8")
        for opened in ("engine.read(", "engine.write(", ".connect(", "get_engine("):
            assert opened not in source, f"{path.name}: {opened}"


def test_every_template_a_route_names_exists() -> None:
    names = set()
    for path in (ROOT / "web").rglob("*.py"):
        names.update(
            node.value
            for node in ast.walk(ast.parse(path.read_text("utf-8")))
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.endswith((".html", ".xml"))
            and not node.value.startswith("/")
        )
    assert names
    for name in names:
        assert (ROOT / "templates" / name).is_file(), name
