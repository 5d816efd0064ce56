"""The project code a workflow job runs, as part of its identity (jobs.resolve, `code`): the import
closure of the job's script (workflow/scripts/<rule>.py) within `inpaint_bench`, found by reading the
files' imports (no module is imported), each file digested by `jobs.probe.source_digest` (comments
and docstrings are free to edit).

- Every import counts, wherever it stands (inside functions too), absolute or relative; `from
  package import name` counts the module that defines `name` (the package's own import of it, or its
  lazy export table), and every package a module sits in counts too (its __init__ runs on import).
- models/: a module reached counts, its imports are not followed. Which backbones, attentions and
  blocks a row is built from comes from its tiny build (jobs.probe.code_digests), so an edit of
  models/dgi_blocks.py re-runs only the rows built from it, while models/registry.py or
  models/losses.py count for every job that imports them.
- A file a job imports counts even where that job never calls into it: the closure is a safe
  over-estimate, not a trace.
- The config's `extensions` (harness.extensions) count for every job, under their absolute paths:
  every job imports them.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

from inpaint_bench.harness.config import REPO_ROOT
from inpaint_bench.jobs.probe import statements, tree_digest
from inpaint_bench.packages import FLOORS

PACKAGE = "inpaint_bench"
SCRIPTS = Path("workflow") / "scripts"
NOT_FOLLOWED = f"{PACKAGE}.models"  # see the module's docstring


@functools.lru_cache(maxsize=None)
def module_file(name: str) -> Path | None:
    """The checkout's file of module `name` (setup.py's package-dir mapping: inpaint_bench.<package> of
    inpaint_bench/packages.py lives in the folder <package>/), or None when it is none of the checkout's modules."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) > 1 and parts[1] in FLOORS:
        base = REPO_ROOT.joinpath(*parts[1:])  # a package's folder: harness/, models/, ...
    else:
        base = REPO_ROOT.joinpath(PACKAGE, *parts[1:])  # inpaint_bench/ itself (packages.py, cli/, ...)
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


@functools.lru_cache(maxsize=None)
def _defining_module(package: str, attribute: str) -> tuple[str, ...]:
    """The modules that define `attribute` of `package` as its __init__ gives it: imported there, or
    named in a lazy export table (a dict from name to module, or from module to names)."""
    init = module_file(package)
    if init is None or init.name != "__init__.py":
        return []
    found = []

    def absolute(module: str) -> str:
        return module if module.startswith(f"{PACKAGE}.") else f"{package}.{module.lstrip('.')}"

    for node in ast.walk(_tree(init)):  # (the dicts of lazy exports are expressions)
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == attribute for a in node.names):
            found.append(_resolve_from(package, init, node))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    continue
                if key.value == attribute and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.append(absolute(value.value))
                elif isinstance(value, (ast.List, ast.Tuple, ast.Set)) and any(
                        isinstance(e, ast.Constant) and e.value == attribute for e in value.elts):
                    found.append(absolute(key.value))
    return tuple(m for m in found if module_file(m))


def _resolve_from(name: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = _package_of(name, path).split(".")
    parts = parts[: len(parts) - node.level + 1]
    return ".".join(parts + ([node.module] if node.module else []))


@functools.lru_cache(maxsize=None)
def read_module(name: str, path: Path) -> tuple[frozenset[str], str]:
    """(the checkout's modules that the file of module `name` imports, see the module's docstring; its
    digest, jobs.probe.source_digest), from one parse of the file."""
    tree = _tree(path)
    found = set()
    for node in statements(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(name, path, node)
            found.add(base)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.update([sub] if module_file(sub) else _defining_module(base, alias.name))
    # a module's packages run first: inpaint_bench, inpaint_bench.<package>, ...
    found |= {".".join(m.split(".")[:i]) for m in found for i in range(1, m.count(".") + 1)}
    return frozenset(m for m in found if m.startswith(PACKAGE) and module_file(m)), tree_digest(tree)


@functools.lru_cache(maxsize=None)
def script_code(script: str) -> tuple[tuple[str, str], ...]:
    """(repository path, digest) of the workflow script `script` (its name without .py) and of every
    module of the checkout it runs, sorted; computed once per process."""
    entry = REPO_ROOT / SCRIPTS / f"{script}.py"
    imports, digest = read_module("__main__", entry)
    digests = {entry: digest}
    todo, seen = sorted(imports), set(imports)
    while todo:
        name = todo.pop()
        path = module_file(name)
        imports, digests[path] = read_module(name, path)
        if name == NOT_FOLLOWED or name.startswith(f"{NOT_FOLLOWED}."):
            continue
        for dep in sorted(imports - seen):
            seen.add(dep)
            todo.append(dep)
    return tuple(sorted((p.resolve().relative_to(REPO_ROOT).as_posix(), d) for p, d in digests.items()))


def extension_code(paths) -> dict[str, str]:
    """{absolute path: digest} of the config's extension files (read now: an edit shows at once)."""
    return {path: tree_digest(ast.parse(Path(path).read_text(), filename=path)) for path in paths}


def job_code(script: str, row: dict[str, str] | None = None, extensions=()) -> dict[str, str]:
    """What a job is computed by: its script's closure (`script_code`), the config's `extensions`
    (`extension_code`) and, for a row's job, the files the row is built from (jobs.probe.code_digests)."""
    return {**dict(script_code(script)), **extension_code(extensions), **(row or {})}
