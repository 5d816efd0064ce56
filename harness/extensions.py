"""The config's `extensions:`: Python files of the user's, imported before the config is validated
(jobs.validate.validate_config) and by every workflow job (harness.joblog.job_log), so that a module
outside the package can register a metric (harness.metric_registry), a dataset kind or a backbone
(models.registry). Each file is imported once per process, under a module name made from its path;
its digest is part of every job's code (jobs.code.extension_code), so an edit re-runs the jobs.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

KEY = "extensions"
_LOADED: dict[str, str] = {}  # resolved path -> module name, of the files this process imported


class ExtensionError(ValueError):
    """An extension file that is missing or fails to import; the message names the file and the key."""


def resolve_paths(paths, folder: str | Path | None = None) -> list[str]:
    """The files as absolute paths: `~` expanded, a relative one taken from `folder` (the folder of the
    config file that names it; None: the working directory)."""
    base = Path(folder) if folder is not None else Path.cwd()
    return [str((base / os.path.expanduser(p)).resolve()) for p in paths]


def load_extensions(paths, key: str = KEY) -> list[str]:
    """Imports each file (once per process); ExtensionError, one line naming the file and `key`, for a
    file that is missing or raises while it is imported. Returns the module names, in order."""
    names = []
    for path in resolve_paths(paths):
        if path not in _LOADED:
            if not Path(path).is_file():
                raise ExtensionError(f"{key}: {path} is not a file (a Python module to import)")
            name = "inpaint_bench_extension_" + hashlib.sha256(path.encode()).hexdigest()[:12]
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ExtensionError(f"{key}: {path} cannot be imported as a Python module (name it *.py)")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as err:  # noqa: BLE001 (whatever the user's module raises: named, one line)
                del sys.modules[name]
                raise ExtensionError(f"{key}: importing {path} failed: {type(err).__name__}: {err}") from None
            _LOADED[path] = name
        names.append(_LOADED[path])
    return names
