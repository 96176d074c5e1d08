"""The Dagster wiring's one loading rule and its folders: every Dagster object a module under
``orchestration/defs/`` defines at module level is in the loaded code location (none silently
dropped), ``@definitions`` functions only bind resources (in ``resources.py``), and every asset
sits in the group named after its folder."""

import ast
import importlib
from pathlib import Path

import dagster as dg
import pytest

from orchestration.settings import REPO_ROOT

DEFS = REPO_ROOT / "orchestration" / "defs"
MODULES = sorted(p for p in DEFS.rglob("*.py") if p.name != "__init__.py")
KINDS = (dg.AssetsDefinition, dg.AssetSpec, dg.AssetChecksDefinition, dg.JobDefinition,
         dg.ScheduleDefinition, dg.SensorDefinition)


def _module(path: Path):
    return importlib.import_module(".".join(path.relative_to(REPO_ROOT).with_suffix("").parts))


def _defines(module) -> list:
    """The Dagster objects the module itself defines (not the ones it imports)."""
    tree = ast.parse(Path(module.__file__).read_text())
    own = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
           if isinstance(t, ast.Name)}
    own |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    return [(name, obj) for name, obj in vars(module).items() if name in own and _is_dagster_object(obj)]


def _is_dagster_object(obj) -> bool:
    # define_asset_job returns a job not resolved yet, a class Dagster does not export: known by name
    return isinstance(obj, KINDS) or type(obj).__name__ == "UnresolvedAssetJobDefinition"


def _uses_definitions_function(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(d, ast.Attribute) and d.attr == "definitions" or
               isinstance(d, ast.Name) and d.id == "definitions"
               for node in tree.body if isinstance(node, ast.FunctionDef) for d in node.decorator_list)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(DEFS)))
def test_definitions_functions_only_bind_resources(path):
    if path.name == "resources.py":
        assert not _defines(_module(path)), "a resources.py binds resources only"
    else:
        assert not _uses_definitions_function(path), (
            "a @definitions function makes Dagster ignore every other object of its module: "
            "define objects at module level instead")


def test_every_object_defined_is_loaded_and_in_its_folders_group(defs):
    graph = defs.resolve_asset_graph()
    loaded_keys = graph.get_all_asset_keys()
    jobs = {j.name for j in defs.resolve_all_job_defs()}
    schedules = {s.name for s in defs.schedules or []}
    sensors = {s.name for s in defs.sensors or []}
    checks = set(graph.asset_check_keys)
    seen = 0
    for path in MODULES:
        folder = path.parent.name
        for name, obj in _defines(_module(path)):
            seen += 1
            if isinstance(obj, dg.AssetsDefinition | dg.AssetSpec):
                keys = obj.keys if isinstance(obj, dg.AssetsDefinition) else [obj.key]
                for key in keys:
                    assert key in loaded_keys, f"{path.name}:{name} {key} is not loaded"
                    assert graph.get(key).group_name == folder, f"{key} is not in group {folder}"
                if isinstance(obj, dg.AssetsDefinition):
                    assert set(obj.check_keys) <= checks
            elif isinstance(obj, dg.AssetChecksDefinition):
                assert set(obj.check_keys) <= checks, f"{path.name}:{name} is not loaded"
            elif isinstance(obj, dg.ScheduleDefinition):
                assert obj.name in schedules, f"{path.name}:{name} is not loaded"
            elif isinstance(obj, dg.SensorDefinition):
                assert obj.name in sensors, f"{path.name}:{name} is not loaded"
            else:   # a job
                assert obj.name in jobs, f"{path.name}:{name} is not loaded"
    assert seen >= 20   # the walk found the wiring (assets, checks, jobs, schedules, sensors)
