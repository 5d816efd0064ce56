"""`python -m inpaint_bench.cli COMMAND ...`, the same as `inpaint-bench COMMAND ...`."""
import sys

from inpaint_bench.cli import main

sys.exit(main())
