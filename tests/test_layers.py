"""The package's floors: each imports only those below it, and no module imports itself back.

docs/architecture.md draws the same table. Imports under ``if TYPE_CHECKING:``
are annotations, never run, and are left out; imports inside functions count.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "tuner"
# floor of each part of tuner: a module may import its own part and any lower floor
FLOORS = {
    "core": 0,
    "runtime": 1,
    "data": 2,
    "keras": 3,
    "tracking": 4,
    "engines": 5,
    "jobs": 6,
    "serving": 6,
    "api": 7,
    "datasets": 7,
    "cli": 8,
    "": 9,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def part_of(module: str) -> str:
    """``tuner.data.frames`` -> ``data``; ``tuner.api`` -> ``api``; ``tuner`` -> ``""``."""
    return module.split(".")[1] if "." in module else ""


def run_time_imports(module: str) -> set[str]:
    """The tuner modules ``module`` imports when it runs (at the top or inside functions)."""
    tree = ast.parse(MODULES[module].read_text())
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for n in ast.walk(node)
    }
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "tuner"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1]
                    + ([base] if base else [])
                )
            if base.split(".")[0] != "tuner":
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found - {module}


GRAPH = {m: run_time_imports(m) for m in MODULES}


def test_each_part_imports_only_itself_and_lower_floors():
    wrong = sorted(
        f"{m} imports {i}"
        for m, imports in GRAPH.items()
        for i in imports
        if part_of(i) != part_of(m) and FLOORS[part_of(i)] >= FLOORS[part_of(m)]
    )
    assert wrong == [], "imports that go up or sideways: " + "; ".join(wrong)


def test_every_part_has_a_floor():
    assert {part_of(m) for m in MODULES} <= FLOORS.keys()


def test_no_module_imports_itself_back():
    """No cycle among modules, whatever imports it runs through."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == "open":
                return path + [module, target]
            if target not in state and (cycle := visit(target, path + [module])):
                return cycle
        state[module] = "done"
        return None

    for module in sorted(GRAPH):
        if module not in state:
            cycle = visit(module, [])
            assert cycle is None, " -> ".join(cycle[cycle.index(cycle[-1]) :])


def test_the_checks_see_an_upward_import_and_a_cycle(monkeypatch):
    """The table above fails on what it is for: core importing jobs, and a loop."""
    monkeypatch.setitem(GRAPH, "tuner.core.study", {"tuner.jobs.search"})
    monkeypatch.setitem(GRAPH, "tuner.jobs.search", {"tuner.core.study"})
    try:
        test_each_part_imports_only_itself_and_lower_floors()
    except AssertionError as exc:
        assert "tuner.core.study imports tuner.jobs.search" in str(exc)
    else:
        raise AssertionError("the floor check let core import jobs")
    try:
        test_no_module_imports_itself_back()
    except AssertionError as exc:
        assert "tuner.core.study" in str(exc) and "tuner.jobs.search" in str(exc)
    else:
        raise AssertionError("the cycle check missed a loop")


def test_only_tracking_writes_to_mlflow():
    """Runs, tags, metrics, artifacts and the registry are written under tracking/ alone: no
    other part calls a writing method of MLflow's client or fluent API."""
    writes = (
        "create_run",
        "log_batch",
        "log_metric",
        "log_param",
        "set_tag",
        "delete_tag",
        "set_terminated",
        "log_artifact",
        "log_figure",
        "log_dict",
        "log_text",
        "log_inputs",
        "log_model",
        "create_experiment",
        "restore_experiment",
        "create_registered_model",
        "create_model_version",
        "set_registered_model_alias",
        "update_model_version",
        "start_run",
        "end_run",
    )
    outside = sorted(
        f"{m}: {node.func.attr}"
        for m, path in MODULES.items()
        if part_of(m) != "tracking"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in writes
        and _is_mlflow(ast.unparse(node.func.value))
    )
    assert outside == [], outside


def _is_mlflow(receiver: str) -> bool:
    """``mlflow``, ``mlflow.keras``, ``client``, ``self.client``, ``MlflowClient(uri)``."""
    return receiver.startswith("mlflow") or "client" in receiver.lower()


def test_no_function_is_longer_than_50_lines():
    long = {
        f"{name}.{node.name}": node.end_lineno - node.lineno + 1
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > 50
    }
    assert long == {}, f"split these (lines each): {long}"
