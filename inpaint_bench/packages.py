"""The harness's library packages and their floors (docs/architecture.md, "Import order"), written once.

Each is a top-level folder of the checkout installed as `inpaint_bench.<package>` (setup.py maps them);
a package imports from its own folder and from lower floors only (tests/test_architecture.py enforces
it). Above them all: `inpaint_bench.cli` (the commands) and workflow/. Plain data, no import: setup.py
reads this file before anything is installed.
"""

FLOORS = {
    "harness": 0,
    "models": 1,
    "datasets": 1,
    "jobs": 2,
    "metrics": 2,
    "training": 3,
    "evaluation": 4,
    "bench": 4,
    "reporting": 4,
}
CLI_FLOOR = 5
