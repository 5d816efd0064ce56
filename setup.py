"""The package-dir mapping of pyproject.toml's project, from the one list of packages
(inpaint_bench/packages.py): inpaint_bench.<package> is the checkout's folder <package>/."""
import runpy

from setuptools import setup

FLOORS = runpy.run_path("inpaint_bench/packages.py")["FLOORS"]

setup(packages=["inpaint_bench", "inpaint_bench.cli", *(f"inpaint_bench.{p}" for p in FLOORS)],
      package_dir={"inpaint_bench": "inpaint_bench", **{f"inpaint_bench.{p}": p for p in FLOORS}})
