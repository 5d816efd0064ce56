"""The import order of docs/architecture.md: each package imports only packages on floors below its own,
and no module imports itself back through others (module-level or inside functions)."""
import ast
from pathlib import Path

from helpers.workflow import REPO

# Bottom to top; a package may import from its own folder and from lower floors only.
FLOORS = {"harness": 0, "models": 1, "datasets": 1, "jobs": 2, "metrics": 2, "training": 3, "reporting": 4,
          "cli": 5}
PACKAGE_DIRS = {"harness", "models", "datasets", "jobs", "metrics", "training", "reporting"}


def module_sources(repo: Path = REPO) -> dict[str, str]:
    """inpaint_bench.<package>.<module> -> source text, for every module of the harness."""
    sources = {}
    for package in sorted(PACKAGE_DIRS):
        for path in sorted((repo / package).glob("*.py")):
            name = f"inpaint_bench.{package}" + ("" if path.stem == "__init__" else f".{path.stem}")
            sources[name] = path.read_text()
    sources["inpaint_bench.cli"] = (repo / "inpaint_bench" / "cli.py").read_text()
    return sources


def imports_of(module: str, source: str, known: set[str]) -> set[str]:
    """The harness modules `module` imports, wherever the import statement stands."""
    package = module if module.count(".") == 1 else module.rsplit(".", 1)[0]
    if module.endswith(".__init__"):
        package = module
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names]
            found.update(n for n in names if n in known)  # `from pkg import submodule`
            if base in known:
                found.add(base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
    found.discard(module)
    return found


def floor(module: str) -> tuple[str, int]:
    package = module.split(".")[1]
    return package, FLOORS[package]


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    known = set(sources)
    return {module: imports_of(module, text, known) for module, text in sources.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, deps in graph.items():
        package, level = floor(module)
        for dep in sorted(deps):
            dep_package, dep_level = floor(dep)
            if dep_package != package and dep_level >= level:
                bad.append(f"{module} (floor {level}) imports {dep} (floor {dep_level})")
    return bad


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state = [], {}

    def visit(module, trail):
        state[module] = "open"
        for dep in sorted(graph[module]):
            if state.get(dep) == "open":
                cycles.append(trail[trail.index(dep):] + [dep] if dep in trail else trail + [module, dep])
            elif dep not in state:
                visit(dep, trail + [dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_every_import_runs_down_the_floors():
    assert upward_imports(import_graph(module_sources())) == []


def test_there_is_no_import_cycle():
    assert import_cycles(import_graph(module_sources())) == []


def test_the_checks_catch_an_upward_import_and_a_cycle():
    sources = module_sources()
    upward = dict(sources)
    upward["inpaint_bench.harness.paths"] += "\n\ndef f():\n    from inpaint_bench.training.train import train\n"
    assert upward_imports(import_graph(upward)) == [
        "inpaint_bench.harness.paths (floor 0) imports inpaint_bench.training.train (floor 3)"]
    sideways = dict(sources)
    sideways["inpaint_bench.models.registry"] += "\nfrom inpaint_bench.datasets import images\n"
    assert ("inpaint_bench.models.registry (floor 1) imports inpaint_bench.datasets.images (floor 1)"
            in upward_imports(import_graph(sideways)))
    circle = dict(sources)
    circle["inpaint_bench.harness.buckets"] += "\nfrom . import config\n"
    assert any({"inpaint_bench.harness.buckets", "inpaint_bench.harness.config"} <= set(c)
               for c in import_cycles(import_graph(circle)))


def test_every_package_of_the_harness_has_a_floor():
    installed = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"inpaint_bench", "tests"}
    assert installed == PACKAGE_DIRS
