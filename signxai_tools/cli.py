"""Command-line tool ``signxai``.

Subcommands
-----------
demo
    Explain a few 8x8 test digits with the shipped demo CNN in PyTorch and/or
    TensorFlow and write one grid of heatmaps (PNG by default; ``--out`` may be a
    file whose extension chooses the format, or a directory)::

        signxai demo [--out PATH] [--samples N] [--framework torch|tf|both]
                     [--methods m1,m2]

The module imports no framework; the demo imports torch and/or TensorFlow when it
runs (torch first).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

__all__ = ["build_parser", "main"]

_FRAMEWORK_CHOICES = {"torch": ("torch",), "tf": ("tf",), "both": ("torch", "tf")}


def _positive_int(text: str) -> int:
    """Parse an integer >= 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _method_list(text: str) -> list[str]:
    """Parse a comma-separated list of method names (argparse type)."""
    methods = [m.strip() for m in text.split(",") if m.strip()]
    if not methods:
        raise argparse.ArgumentTypeError("empty method list")
    return methods


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``signxai`` command.

    Returns
    -------
    argparse.ArgumentParser
        Parser with the ``demo`` subcommand; parsed ``demo`` arguments have the
        attributes ``out``, ``samples``, ``framework`` (a tuple of framework
        names), ``methods`` (list or ``None``) and ``quiet``.
    """
    parser = argparse.ArgumentParser(
        prog="signxai",
        description="SIGN and LRP explanations for PyTorch and TensorFlow/Keras.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    demo = sub.add_parser(
        "demo",
        help="explain 8x8 digits with the shipped CNN and write a PNG of heatmaps",
        description="Explain a few 8x8 test digits with the shipped demo CNN and "
        "write one grid of heatmaps: one row per (framework, digit), one column per method.",
    )
    demo.add_argument(
        "--out", default="signxai-demo.png", metavar="PATH",
        help="file to write; its extension chooses the format (.png, .pdf, .svg, ...; none: .png "
        "is added), or an existing directory / a path ending with a separator to write "
        "signxai-demo.png into (default: %(default)s)",
    )
    demo.add_argument(
        "--samples", type=_positive_int, default=4, metavar="N",
        help="number of test digits (default: %(default)s)",
    )
    demo.add_argument(
        "--framework", choices=tuple(_FRAMEWORK_CHOICES), default="both",
        help="framework(s) to run (default: %(default)s)",
    )
    demo.add_argument(
        "--methods", type=_method_list, default=None, metavar="m1,m2",
        help="comma-separated method names (default: the demo's method list)",
    )
    demo.add_argument(
        "-q", "--quiet", action="store_true", help="log warnings only",
    )
    return parser


#: Loggers whose records the command shows on stderr: the tools and both framework packages.
_LOGGERS: tuple[str, ...] = ("signxai_tools", "signxai_captum", "signxai_tf")


def _configure_logging(quiet: bool) -> None:
    """Show the project's log records on stderr (INFO, or WARNING if quiet)."""
    logging.basicConfig(format="%(levelname)s: %(message)s")
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run the ``signxai`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 if the demo could not run.
    """
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the demo
    _configure_logging(args.quiet)
    if args.command == "demo":
        from signxai_tools.demo import run_demo

        try:
            path = run_demo(
                out_path=args.out,
                n_samples=args.samples,
                frameworks=_FRAMEWORK_CHOICES[args.framework],
                methods=args.methods,
            )
        except (RuntimeError, ValueError, OSError) as error:
            print(f"signxai demo: error: {error}", file=sys.stderr)
            return 1
        print(f"Wrote heatmaps to {path}")
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
