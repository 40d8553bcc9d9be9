"""Command line: ``python -m dynamic_inference <command>``.

Each command lives in the module of its concept; this file only parses flags and turns the
library's typed errors into one clear line on stderr with exit code 2 (never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from dynamic_inference.errors import DynamicInferenceError


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit code 2, like every other
    error of the command line (argparse prints the usage block first; ``--help`` shows it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m dynamic_inference",
        description="Dynamic inference for video action recognition (Wu et al., CVPRW 2020).",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("demo", help="run the shipped mini model on the shipped mini test clips")
    s.add_argument("--out", default="demo_out", help="folder for the PNG figure")
    s.add_argument("--limit", type=int, default=None,
                   help="how many test videos to list, spread over the classes (default 16)")

    s = sub.add_parser("make-mini", help="generate the MiniActions dataset")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--per-class", type=int, default=None, help="train clips per class")
    s.add_argument("--size", type=int, default=None, help="frame side in pixels (default 64)")
    s.add_argument("--force", action="store_true",
                   help="write into a non-empty folder make-mini did not make (its files are "
                   "kept; make-mini never deletes what it did not write)")

    s = sub.add_parser("flops", help="per-exit and per-video cost of a backbone")
    s.add_argument("--model", required=True)
    s.add_argument("--frames", type=int, required=True)
    s.add_argument("--size", type=int, default=None, help="input side (default: the model's)")
    s.add_argument("--classes", type=int, default=None, help="number of classes")
    s.add_argument(
        "--no-exits", dest="exits", action="store_false",
        help="ResNets only: the static TSN/TSM net with its final classifier only",
    )
    s.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("train", help="multi-exit training; writes a checkpoint + provenance")
    s.add_argument("--model", default="tiny", help="tiny, msdnet_mini, tsm_resnet50, msdnet38, ...")
    s.add_argument("--data", default=None, help="dataset root (default: datasets_mini/)")
    s.add_argument("--dataset", default="mini", help="mini, ucf101, hmdb51, kinetics400, sthv2")
    s.add_argument("--out", required=True, help="checkpoint file to write (.pt)")
    s.add_argument("--shift", choices=["off", "offline", "online"], default="online")
    s.add_argument("--frames", type=int, default=16)
    s.add_argument("--groups", type=int, default=4, help="frame groups for prefix losses")
    s.add_argument("--order", choices=["sequential", "strided", "random"], default="strided")
    s.add_argument(
        "--loss", choices=["depth", "input", "unified"], default="unified",
        help="which decision points get a loss: exits, group prefixes, or both",
    )
    s.add_argument("--size", type=int, default=None)
    s.add_argument("--epochs", type=int, default=15)
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument("--optimizer", choices=["sgd", "adamw"], default="adamw")
    s.add_argument("--lr", type=float, default=None)
    s.add_argument("--weight-decay", type=float, default=None)
    s.add_argument("--label-smoothing", type=float, default=0.0)
    s.add_argument(
        "--reverse-aug", type=float, default=0.0,
        help="probability of playing a training clip backwards with its partner's label "
        "(datasets with time-reversal pairs, e.g. MiniActions)",
    )
    s.add_argument(
        "--jitter", type=int, default=0, metavar="PX",
        help="translate each training clip by a random offset of up to PX pixels (wrapping)",
    )
    s.add_argument(
        "--distill", type=float, default=0.0, metavar="W",
        help="self-distillation: earlier exits and prefixes also learn the last exit's answer "
        "on the whole clip, with weight W (0: off)",
    )
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu")
    s.add_argument("--workers", type=int, default=0)
    s.add_argument("--limit", type=int, default=None, help="only N training clips (smoke runs)")
    s.add_argument("--steps", type=int, default=None, help="stop after N steps (smoke runs)")
    s.add_argument("--skip-bad", action="store_true",
                   help="drop missing and undecodable clips (reported) instead of stopping")
    s.add_argument("--channels-last", action="store_true",
                   help="train with NHWC activations (other CPU kernels, other float sums; "
                   "measured no faster than the default here, see the README)")

    s = sub.add_parser("evaluate", help="evaluate a scheme; writes a JSON report")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--data", default=None, help="dataset root (default: datasets_mini/)")
    s.add_argument("--split", default="test")
    s.add_argument("--scheme", choices=["full", "depth", "input", "unified"], required=True)
    s.add_argument("--order", choices=["sequential", "strided", "random"], default="strided")
    s.add_argument("--groups", type=int, default=4)
    g = s.add_mutually_exclusive_group()
    g.add_argument("--budget", type=float, help="mean GFLOPs/video, calibrated on val")
    g.add_argument("--threshold", type=float, help="one shared confidence threshold")
    g.add_argument("--budget-ms", type=float,
                   help="mean milliseconds of compute per video on this machine (a latency "
                   "table is measured first), calibrated on val")
    s.add_argument("--json", dest="json_out", default=None, metavar="OUT")
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--device", default="cpu")
    s.add_argument("--skip-bad", action="store_true",
                   help="drop missing and undecodable clips (listed in the report's 'skipped')")
    s.add_argument("--fold", action="store_true",
                   help="run the BatchNorm-folded copy of the model (faster engine on a CPU; "
                   "logits equal to float rounding)")

    s = sub.add_parser("stream", help="frame-by-frame online inference on one video")
    s.add_argument("video")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--group", type=int, default=2, help="frames per step")
    s.add_argument("--threshold", type=float, default=0.9)
    s.add_argument("--frames", type=int, default=16)
    s.add_argument(
        "--order", choices=["sequential", "strided", "random"], default=None,
        help="order of the input frames (default: the checkpoint's; sequential = time order)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from dynamic_inference.demo import cli_demo

        return cli_demo(args)
    if args.command == "make-mini":
        from dynamic_inference.data.mini.build import cli_make_mini

        return cli_make_mini(args)
    if args.command == "flops":
        from dynamic_inference.flops import cli_flops

        return cli_flops(args)
    if args.command == "train":
        from dynamic_inference.train import cli_train

        return cli_train(args)
    if args.command == "evaluate":
        from dynamic_inference.evaluate import cli_evaluate

        return cli_evaluate(args)
    if args.command == "stream":
        from dynamic_inference.stream import cli_stream

        return cli_stream(args)
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except DynamicInferenceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file the library did not check (a disk that filled up, ...)
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
