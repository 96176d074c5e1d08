"""The shape of the package, checked over its source (``ast``, nothing imported):

- every import of ``orchestration`` code points down the layers below (a package may import its
  own modules and any package of a lower layer, never one of its own layer or above — lazy
  imports inside functions included);
- no flat domain module at ``orchestration/``'s top level;
- no module over 600 lines outside the migrations;
- no private Dagster API (``dagster._…``) anywhere in the package.

Run as a script (``python tests/unit/test_layers.py``) it prints the package import graph.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "orchestration"

# Lowest first. A package may import from its own package and from packages of a lower layer.
LAYERS: list[set[str]] = [
    {"constants"},                  # business constants
    {"settings"},                   # the one table of settings, and where each comes from
    {"core", "identity"},           # the landing area, atomic files, refusals; the vocabulary of a property
    {"db"},                         # the database: runtime, migrations, SQL functions, the store
    {"privacy"},                    # sealing, blind indexes, keys, erasure, suppressions
    {"ingest"},                     # signed uploads to leads
    {"events", "campaign"},         # what comes back; what goes out
    {"ops"},                        # health, alerts, housekeeping
    {"web"},                        # the one HTTP app (upload, event and consent doors)
    {"runs"},                       # launching runs, local runs
    {"defs"},                       # Dagster wiring
    {"definitions"},                # the code location: everything under defs/
    {"dev"},                        # the demo (runs the code location), sample data
    {"cli"},                        # the equity command
    {"__main__", "__init__"},       # python -m orchestration
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
TOP_LEVEL_ALLOWED = {"__init__", "__main__", "bootstrap", "definitions", "settings", "constants"}
MAX_LINES = 600
# Modules allowed a private Dagster import, each with its reason (none: the next Dagster upgrade
# may change anything under dagster._ without notice).
PRIVATE_DAGSTER_ALLOWED: set[str] = set()


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _unit(path: Path) -> str:
    """The package (first path part under orchestration/) a module belongs to."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_units(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "orchestration":
                names = [f"orchestration.{a.name}" for a in node.names]
            else:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "orchestration" and len(parts) > 1:
                found.add(parts[1])
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _modules():
        unit = _unit(path)
        if unit == "bootstrap":
            continue
        graph[unit] |= _imported_units(path) - {unit}
    return graph


def test_every_package_has_a_layer():
    units = {_unit(p) for p in _modules()} - {"bootstrap"}
    assert units - set(RANK) == set(), "give each new package a layer in LAYERS"


def test_imports_point_down():
    upward = []
    for path in _modules():
        unit = _unit(path)
        if unit == "bootstrap":
            continue
        for target in _imported_units(path) - {unit}:
            if target in RANK and RANK[target] >= RANK[unit]:
                upward.append(f"{path.relative_to(PACKAGE.parent)} imports orchestration.{target}")
    assert upward == []


def test_no_flat_domain_modules_at_the_top():
    flat = {p.stem for p in PACKAGE.glob("*.py")} - TOP_LEVEL_ALLOWED
    assert flat == set(), "put a capability's module in its package"


def test_no_module_over_600_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in _modules() if "migrations" not in p.parts
            and (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_no_private_dagster_api():
    private = {str(p.relative_to(PACKAGE)) for p in _modules() if "dagster._" in p.read_text()
               or "dagster_shared." in p.read_text()}
    assert private - PRIVATE_DAGSTER_ALLOWED == set()


def test_the_reader_sees_imports_inside_functions(tmp_path):
    """The graph reader finds an import inside a function (the kind that hides best), in both forms."""
    module = tmp_path / "x.py"
    module.write_text("def f():\n    from orchestration.campaign import feeder\n    import orchestration.cli\n")
    assert _imported_units(module) == {"campaign", "cli"}


if __name__ == "__main__":
    for unit, targets in sorted(import_graph().items(), key=lambda kv: RANK.get(kv[0], 99)):
        print(f"{unit:12} -> {', '.join(sorted(targets, key=lambda t: RANK.get(t, 99))) or '-'}")


def test_the_cli_parses_calls_and_prints():
    """Commands call a capability and print: no SQL, no crypto, no pandas of their own."""
    forbidden = {".execute(": "SQL", ".copy(": "SQL", "sealer.open(": "crypto", ".seal(": "crypto",
                 "import pandas": "pandas", "hashlib": "crypto", "hmac.": "crypto"}
    found = [f"{path.name}: {what} ({needle})" for path in sorted((PACKAGE / "cli").glob("*.py"))
             for needle, what in forbidden.items() if needle in path.read_text()]
    assert found == []
