"""`inpaint-bench COMMAND ...` (or `python -m inpaint_bench.cli COMMAND ...`): the command-line tools, the
layer above the library. Each command is one module of this package: its arguments (argparse), its
messages and exit status, and calls into the library, whose modules hold functions only. A command's
module is imported only when it runs, so `inpaint-bench --help` stays cheap."""
from __future__ import annotations

import importlib
import sys

COMMANDS = {  # command (its module in this package) -> what it does
    "train": "train one variant or DGI teacher of a config",
    "evaluate": "score a trained variant on the test masks",
    "score": "score another method's output files",
    "compare": "paired comparison of two result files",
    "bench": "images/s and FLOP/s of training and inference",
    "export": "write a test set's inputs for another method",
    "weights": "find or fetch the pretrained weight files",
    "mini": "build a mini dataset",
    "masks": "build a test mask set",
    "aggregate": "gather evaluation summaries into one CSV",
    "tables": "write a dataset's tables",
    "plots": "write a dataset's plots",
    "rehearse": "run every row of a paper config at its size on generated trees",
    "restamp": "accept existing results under edited code that changes no number",
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, what in COMMANDS.items()]
    return ("usage: inpaint-bench COMMAND [ARGS ...]   (inpaint-bench COMMAND --help for its arguments)\n\n"
            "commands:\n" + "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"inpaint-bench: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    sys.argv[0] = f"inpaint-bench {command}"  # argparse's prog in each command's usage line
    result = importlib.import_module(f"{__name__}.{command}").main(rest)
    return result if isinstance(result, int) else 0
