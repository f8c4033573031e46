"""Command-line tool ``signxai``.

Subcommands
-----------
demo
    Explain shipped examples with both frameworks and write figures::

        signxai demo [--dataset photo|ecg|digits|all] [--out PATH] [--framework torch|tf|both]
                     [--methods m1,m2] [--samples N]

    ``--dataset photo``: photographs with a pretrained image network; ``ecg``: ECG records with a
    time-series network; ``all`` (default): both, into the directory ``--out`` (default
    ``./signxai-demo/``). ``digits``: a few 8x8 test digits with the shipped demo CNN, one grid
    of heatmaps (``--out`` a file whose extension chooses the format, or a directory; default
    ``signxai-demo.png``; ``--samples`` digits).
explain
    Explain your own model (Keras ``.keras`` / ``.h5``, TorchScript, ``torch.export`` ``.pt2``) on
    image files, ``.npy`` arrays or CSV time series::

        signxai explain MODEL INPUT... --method NAME [--method NAME ...] [--target N] [--out DIR]

    See :mod:`signxai_tools.explain_cli`.

The module imports no framework; the commands import torch and/or TensorFlow when they run
(torch first).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from typing import Iterator

from signxai_tools.explain_cli import positive_int

__all__ = ["build_parser", "main"]

_FRAMEWORK_CHOICES = {"torch": ("torch",), "tf": ("tf",), "both": ("torch", "tf")}

#: ``signxai demo --dataset`` choices; "all" runs these.
DATASETS: tuple[str, ...] = ("photo", "ecg", "digits", "all")
ALL_DATASETS: tuple[str, ...] = ("photo", "ecg")

#: Default ``--out`` of the photo / ecg / all demos (a directory).
DEFAULT_DEMO_DIR = "signxai-demo"
#: Default ``--out`` of the digits demo (a file).
DEFAULT_DIGITS_OUT = "signxai-demo.png"


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
        Parser with the ``demo`` and ``explain`` subcommands. Parsed ``demo`` arguments have
        the attributes ``dataset``, ``out`` (``None``: the dataset's default), ``samples``,
        ``framework`` (a key of the framework choices), ``methods`` (list or ``None``) and
        ``quiet``; ``explain``'s are described in :mod:`signxai_tools.explain_cli`.
    """
    parser = argparse.ArgumentParser(
        prog="signxai",
        description="SIGN and LRP explanations for PyTorch and TensorFlow/Keras.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    demo = sub.add_parser(
        "demo",
        help="explain shipped examples (photographs, ECG records, 8x8 digits) and write figures",
        description="Explain shipped examples with both frameworks and write figures: photographs "
        "(--dataset photo), ECG records (ecg), both (all, the default), or a grid of 8x8 digits "
        "explained by the shipped demo CNN (digits).",
    )
    demo.add_argument(
        "--dataset", choices=DATASETS, default="all",
        help="what to explain: photo, ecg, digits, or all = photo and ecg (default: %(default)s)",
    )
    demo.add_argument(
        "--out", default=None, metavar="PATH",
        help=f"photo/ecg/all: the directory to write into (default: ./{DEFAULT_DEMO_DIR}/). digits: the "
        "file to write; its extension chooses the format (.png, .pdf, .svg, ...; none: .png is added), "
        f"or an existing directory / a path ending with a separator to write {DEFAULT_DIGITS_OUT} into "
        f"(default: {DEFAULT_DIGITS_OUT})",
    )
    demo.add_argument(
        "--samples", type=positive_int, default=4, metavar="N",
        help="digits only: number of test digits (default: %(default)s)",
    )
    demo.add_argument(
        "--framework", choices=tuple(_FRAMEWORK_CHOICES), default="both",
        help="framework(s) to run (default: %(default)s)",
    )
    demo.add_argument(
        "--methods", type=_method_list, default=None, metavar="m1,m2",
        help="comma-separated method names (default: each demo's method list)",
    )
    demo.add_argument(
        "-q", "--quiet", action="store_true", help="log warnings only",
    )
    from signxai_tools.explain_cli import add_explain_parser

    add_explain_parser(sub)
    return parser


#: Loggers whose records the command shows on stderr: the tools and both framework packages.
_LOGGERS: tuple[str, ...] = ("signxai_tools", "signxai_captum", "signxai_tf")


def _configure_logging(quiet: bool) -> None:
    """Show the project's log records on stderr (INFO, or WARNING if quiet)."""
    logging.basicConfig(format="%(levelname)s: %(message)s")
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.INFO)


#: Framework loggers silenced while a demo runs (their records would repeat on stderr).
_FRAMEWORK_LOGGERS: tuple[str, ...] = ("tensorflow", "absl", "keras", "h5py", "torch")


@contextlib.contextmanager
def _quiet_frameworks() -> Iterator[None]:
    """Keep TensorFlow's, Keras', absl's and torch's log lines and warnings out of the demo.

    ``TF_CPP_MIN_LOG_LEVEL=2`` and ``TF_ENABLE_ONEDNN_OPTS=0`` (unless set: oneDNN prints its
    start-up line once per TensorFlow library, i.e. twice) are set before TensorFlow is imported;
    the framework loggers are raised to ERROR; warnings issued from their modules are ignored
    while the block runs (the warning filters are restored afterwards).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    for name in _FRAMEWORK_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"(tensorflow|keras|absl|torch|h5py)(\.|$)")
        yield


def _import_torch_first() -> None:
    """Import torch (and torchvision) before TensorFlow: triton loaded after TensorFlow crashes."""
    import importlib.util

    for name in ("torch", "torchvision"):
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def _run_demo(args: argparse.Namespace) -> int:
    """Run ``signxai demo`` for the chosen dataset(s)."""
    frameworks = _FRAMEWORK_CHOICES[args.framework]
    try:
        with _quiet_frameworks():
            if "torch" in frameworks and len(frameworks) > 1:
                _import_torch_first()
            if args.dataset == "digits":
                from signxai_tools.demo import run_demo

                path = run_demo(
                    out_path=args.out if args.out is not None else DEFAULT_DIGITS_OUT,
                    n_samples=args.samples,
                    frameworks=frameworks,
                    methods=args.methods,
                )
                paths = [path]
            else:
                import importlib
                import pathlib

                out_dir = pathlib.Path(args.out if args.out is not None else DEFAULT_DEMO_DIR)
                if out_dir.exists() and not out_dir.is_dir():
                    print(f"signxai demo: error: --out {str(out_dir)!r} is a file; the {args.dataset} demo "
                          "writes into a directory", file=sys.stderr)
                    return 2
                paths = []
                for dataset in ALL_DATASETS if args.dataset == "all" else (args.dataset,):
                    module = importlib.import_module(f"signxai_tools.demo.{dataset}")
                    runner = getattr(module, f"run_{dataset}_demo", None)
                    if runner is None:
                        raise RuntimeError(f"the {dataset} demo is not available: {module.__name__} has no "
                                           f"run_{dataset}_demo")
                    paths += list(runner(out_dir, frameworks=frameworks, methods=args.methods))
    except (RuntimeError, ValueError, OSError, ImportError) as error:
        print(f"signxai demo: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"Wrote heatmaps to {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``signxai`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 if the command could not run (runtime errors), 2 for
        usage errors (argparse exits with 2 by itself).
    """
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    _configure_logging(args.quiet)
    if args.command == "demo":
        return _run_demo(args)
    if args.command == "explain":
        from signxai_tools.explain_cli import run_explain

        return run_explain(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
