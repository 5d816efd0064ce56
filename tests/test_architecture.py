"""The import order of docs/architecture.md: each package imports only packages on floors below its own,
and no module imports itself back through others (module-level or inside functions). The library's
modules hold functions only: the commands (argparse, `main`) are inpaint_bench.cli's."""
import ast
import re
import subprocess
import sys
from pathlib import Path

from helpers.workflow import REPO
from inpaint_bench.packages import CLI_FLOOR
from inpaint_bench.packages import FLOORS as LIBRARY

# Bottom to top; a package may import from its own folder and from lower floors only.
FLOORS = {**LIBRARY, "cli": CLI_FLOOR}
PACKAGE_DIRS = set(LIBRARY)


def module_sources(repo: Path = REPO) -> dict[str, str]:
    """inpaint_bench.<package>.<module> -> source text, for every module of the harness."""
    sources = {}
    folders = {package: repo / package for package in sorted(PACKAGE_DIRS)} | {"cli": repo / "inpaint_bench" / "cli"}
    for package, folder in folders.items():
        for path in sorted(folder.glob("*.py")):
            name = f"inpaint_bench.{package}" + ("" if path.stem == "__init__" else f".{path.stem}")
            sources[name] = path.read_text()
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


def command_line_parts(module: str, source: str) -> list[str]:
    """What makes `module` a command rather than library code: a `main` or `parse_args`, an import of
    argparse, an `if __name__ == "__main__"` block."""
    found = []
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ("main", "parse_args"):
            found.append(f"{module} defines {node.name}()")
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"):
            found.append(f"{module} has an `if __name__ == ...` block")
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if any(name.split(".")[0] == "argparse" for name in names):
            found.append(f"{module} imports argparse")
    return found


def library_commands(sources: dict[str, str]) -> list[str]:
    return [part for module, text in sorted(sources.items()) if floor(module)[0] != "cli"
            for part in command_line_parts(module, text)]


def test_no_library_module_is_a_command():
    """models/, datasets/, metrics/, training/, reporting/ and every other library package hold functions
    only; the command-line entry points are inpaint_bench.cli's."""
    assert library_commands(module_sources()) == []


def test_the_check_catches_a_command_in_the_library():
    sources = module_sources()
    sources["inpaint_bench.training.train"] += ("\n\ndef main(argv=None):\n    import argparse\n\n\n"
                                                "if __name__ == '__main__':\n    main()\n")
    assert library_commands(sources) == [
        "inpaint_bench.training.train defines main()",
        "inpaint_bench.training.train has an `if __name__ == ...` block",
        "inpaint_bench.training.train imports argparse"]
    assert any("defines main()" in part for part in command_line_parts("inpaint_bench.cli.train",
                                                                       sources["inpaint_bench.cli.train"]))


def test_every_command_is_a_module_of_the_cli():
    from inpaint_bench.cli import COMMANDS

    assert {f"inpaint_bench.cli.{c}" for c in COMMANDS} <= set(module_sources())


def test_the_floors_table_of_the_docs_is_the_packages_list():
    """docs/architecture.md's floors table names every package of inpaint_bench/packages.py on its floor."""
    text = (REPO / "docs" / "architecture.md").read_text()
    documented = {}
    for floor_number, cell in re.findall(r"^\| (\d) \| ([^|]+) \|", text, flags=re.M):
        for name in re.findall(r"`([\w.]+)`", cell):
            documented[name.removeprefix("inpaint_bench.")] = int(floor_number)
    assert {name: documented.get(name) for name in FLOORS} == FLOORS


def test_the_harness_imports_neither_torch_nor_snakemake():
    """Floor 0 stays cheap to import (the Snakefile parses with it), harness/weights.py included: torch is
    imported inside the functions that need it."""
    code = ("import importlib, pkgutil, sys, inpaint_bench.harness as h\n"
            "for m in pkgutil.iter_modules(h.__path__):\n"
            "    importlib.import_module(f'inpaint_bench.harness.{m.name}')\n"
            "print(sorted(name for name in ('torch', 'snakemake') if name in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
