"""`inpaint-bench score`: scores another method's output folder with the harness's own metric code
(metrics.score). Every error ends in `error: ...` on stderr with exit code 2, and nothing is written."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from inpaint_bench.cli.common import add_extensions_argument, import_extensions, seed_argument
from inpaint_bench.harness.names import PROTOCOLS, RENAMED_PROTOCOLS, protocol_line, renamed_protocol_message
from inpaint_bench.metrics import score


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=score.__doc__.split("\n")[0])
    parser.add_argument("--pred", required=True, type=Path, help="folder of the method's outputs")
    parser.add_argument("--gt", required=True, type=Path, help="folder of ground-truth images")
    parser.add_argument("--masks", required=True, type=Path,
                        help="test-mask folder (with manifest.csv) or flat mask folder")
    parser.add_argument("--out", required=True, type=Path, help="per-image CSV; the summary goes to <stem>_summary.csv")
    parser.add_argument("--dataset", default="external", help="dataset label of the rows (default: external)")
    parser.add_argument("--variant", help="method label of the rows (default: the --pred folder's name)")
    parser.add_argument("--seed", type=seed_argument, default=0, help="seed label of the rows (default: 0)")
    parser.add_argument("--protocol", default="default", choices=[*PROTOCOLS, *RENAMED_PROTOCOLS],
                        help="how PSNR, SSIM and L1 are computed (docs/protocols.md; default: default)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--composite", dest="composite", action="store_const", const=True, default=None,
                     help="composite every output with its mask's known pixels before scoring (the default of "
                          "default and skimage_rgb); recorded with the protocol")
    how.add_argument("--as-is", dest="composite", action="store_const", const=False,
                     help="score the outputs as they are, known pixels included (the default of edgeconnect, "
                          "as its script does); recorded with the protocol")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score without the outputs that are missing (each mask with a ground-truth image "
                             "needs one; default: an error naming them); the provenance and the summary's "
                             "note, which the tables' footnote repeats, say which")
    parser.add_argument("--weights-dir", default=None, help="folder searched first for pretrained weights")
    parser.add_argument("--cache", type=Path, help="file to keep ground-truth Inception features in between runs")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mask-threshold", type=float, metavar="T",
                        help="binarize masks that are not pure 0/255: hole = value/max > T, T in [0, 1] "
                             "(default: such masks are an error)")
    parser.add_argument("--force", action="store_true",
                        help="replace --out and its summary even when they are not result files of this tool")
    add_extensions_argument(parser)
    args = parser.parse_args(argv)
    if args.protocol in RENAMED_PROTOCOLS:
        print(f"note: {renamed_protocol_message(args.protocol, '--protocol')}", file=sys.stderr)
        args.protocol = RENAMED_PROTOCOLS[args.protocol]
    try:
        import_extensions(args)
        evaluation, scored = score.score_outputs(
            args.pred, args.gt, args.masks, args.out, args.dataset, args.variant, args.seed, args.protocol,
            args.composite, args.allow_missing, args.weights_dir, args.cache, args.batch_size, args.device,
            args.mask_threshold, args.force)
    except (ValueError, OSError) as err:
        if os.environ.get("HARNESS_DEBUG") == "1":
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({scored} images), {score.summary_path(args.out)} and {score.provenance_path(args.out)}")
    print(protocol_line(evaluation.protocol))
    return 0


if __name__ == "__main__":
    sys.exit(main())
