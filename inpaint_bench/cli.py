"""`inpaint-bench COMMAND ...`: one entry point for the command-line tools. Each command runs the
`main` of one module with the arguments that follow it, exactly as `python -m MODULE ...` does."""
from __future__ import annotations

import importlib
import sys

COMMANDS = {  # command -> (module, what it does)
    "train": ("inpaint_bench.training.train", "train one variant or DGI teacher of a config"),
    "evaluate": ("inpaint_bench.training.evaluate", "score a trained variant on the test masks"),
    "score": ("inpaint_bench.metrics.score", "score another method's output files"),
    "compare": ("inpaint_bench.reporting.compare", "paired comparison of two result files"),
    "bench": ("inpaint_bench.training.bench", "images/s and FLOP/s of training and inference"),
    "export": ("inpaint_bench.training.export_inputs", "write a test set's inputs for another method"),
    "weights": ("inpaint_bench.metrics.weights", "find or fetch the pretrained weight files"),
    "mini": ("inpaint_bench.datasets.mini", "build a mini dataset"),
    "masks": ("inpaint_bench.datasets.mask_sets", "build a test mask set"),
    "aggregate": ("inpaint_bench.reporting.aggregate", "gather evaluation summaries into one CSV"),
    "tables": ("inpaint_bench.reporting.tables", "write a dataset's tables"),
    "plots": ("inpaint_bench.reporting.plots", "write a dataset's plots"),
    "rehearse": ("inpaint_bench.rehearse", "run every row of a paper config at its size on generated trees"),
    "restamp": ("inpaint_bench.training.restamp", "accept existing results under edited code that changes no number"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
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
    result = importlib.import_module(COMMANDS[command][0]).main(rest)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
