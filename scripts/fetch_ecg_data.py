"""Fetch the demo ECG (MIT-BIH record 208 excerpt) from a SciPy 1.11 wheel and ship it.

Usage::

    python scripts/fetch_ecg_data.py [--wheel PATH] [--out-dir DIR]

SciPy 1.1 - 1.11 ship ``scipy/misc/ecg.dat``: an ``.npz`` holding one ``uint16`` array ``ecg`` of
108000 samples, 5 minutes (19:35 - 24:35) of lead MLII of record 208 of the MIT-BIH Arrhythmia
Database at 360 Hz (mV = (value - 1024) / 200). The file was removed from SciPy 1.12.

Without ``--wheel`` the script runs ``pip download scipy==1.11.4 --no-deps --only-binary=:all:``
into a temporary directory (any platform's wheel, or the sdist ``.tar.gz`` given with
``--wheel``, holds the same file). It extracts ``ecg.dat``, checks its sha256 and writes it
verbatim to ``signxai_tools/demo/data/mitdb208_ecg.npz`` (about 119 KB) plus
``LICENSE-ecg-data.txt`` (source, licences, attribution).
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "signxai_tools" / "demo" / "data"
SCIPY_VERSION = "1.11.4"
MEMBER = "scipy/misc/ecg.dat"
OUT_NAME = "mitdb208_ecg.npz"
LICENSE_NAME = "LICENSE-ecg-data.txt"
#: sha256 of scipy/misc/ecg.dat (SciPy 1.11.4; unchanged since SciPy 1.1).
SHA256 = "f20ad3365fb9b7f845d0e5c48b6fe67081377ee466c3a220b7f69f35c8958baf"

LICENSE_TEXT = f"""\
signxai_tools/demo/data/{OUT_NAME}
=====================================

What: 5 minutes (19:35 - 24:35) of lead MLII of record 208 of the MIT-BIH Arrhythmia Database,
sampled at 360 Hz, 11-bit ADC (mV = (value - 1024) / 200). The file is a verbatim copy of
scipy/misc/ecg.dat of SciPy {SCIPY_VERSION} (sha256 {SHA256}),
the data behind scipy.misc.electrocardiogram() / scipy.datasets.electrocardiogram().
Fetched by scripts/fetch_ecg_data.py from the SciPy {SCIPY_VERSION} wheel on PyPI.

Data licence and attribution
----------------------------
The MIT-BIH Arrhythmia Database is published by PhysioNet (https://physionet.org/content/mitdb/1.0.0/)
under the Open Data Commons Attribution License v1.0 (ODC-By 1.0,
https://opendatacommons.org/licenses/by/1-0/). When using these data, cite:

  Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database.
  IEEE Eng in Med and Biol 20(3):45-50 (May-June 2001). (PMID: 11446209)
  https://doi.org/10.13026/C2F305

  Goldberger AL, Amaral LAN, Glass L, Hausdorff JM, Ivanov PCh, Mark RG, Mietus JE, Moody GB,
  Peng C-K, Stanley HE. PhysioBank, PhysioToolkit, and PhysioNet: Components of a New Research
  Resource for Complex Physiologic Signals. Circulation 101(23):e215-e220 (2000).
  https://doi.org/10.1161/01.CIR.101.23.e215

The excerpt and its packaging come from SciPy (https://scipy.org), distributed under the
BSD 3-Clause licence:

  Copyright (c) 2001-2002 Enthought, Inc. 2003-2023, SciPy Developers.
  All rights reserved.

  Redistribution and use in source and binary forms, with or without modification, are
  permitted provided that the following conditions are met:
  1. Redistributions of source code must retain the above copyright notice, this list of
     conditions and the following disclaimer.
  2. Redistributions in binary form must reproduce the above copyright notice, this list of
     conditions and the following disclaimer in the documentation and/or other materials
     provided with the distribution.
  3. Neither the name of the copyright holder nor the names of its contributors may be used
     to endorse or promote products derived from this software without specific prior
     written permission.

  THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS
  OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF
  MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE
  COPYRIGHT OWNER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL,
  EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE
  GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED
  AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING
  NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED
  OF THE POSSIBILITY OF SUCH DAMAGE.

Derived files
-------------
signxai_tools/demo/data/ecg_cnn.npz (written by scripts/train_ecg_model.py) holds beat labels
derived from this record (R-peak positions, QRS half-maximum widths, normal/wide classes; see
docs/ecg.md) and a CNN trained on them; they are derived from the MIT-BIH data above and carry
the same attribution. The labels are NOT the database's cardiologist annotations.
"""


def _download(directory: pathlib.Path) -> pathlib.Path:
    """pip-download the SciPy wheel into ``directory`` and return its path."""
    command = [
        sys.executable, "-m", "pip", "download", f"scipy=={SCIPY_VERSION}",
        "--no-deps", "--only-binary=:all:", "-d", str(directory),
    ]
    print("running:", " ".join(command))
    subprocess.run(command, check=True)
    found = sorted(directory.glob(f"scipy-{SCIPY_VERSION}*"))
    if not found:
        raise FileNotFoundError(f"pip download left no scipy-{SCIPY_VERSION} file in {directory}")
    return found[0]


def extract(archive: pathlib.Path) -> bytes:
    """Return the bytes of ``scipy/misc/ecg.dat`` from a SciPy wheel (``.whl``) or sdist (``.tar.gz``).

    Raises
    ------
    KeyError
        If the archive has no ``ecg.dat`` (SciPy >= 1.12 dropped it).
    ValueError
        If the archive is neither a wheel nor a gzipped tarball.
    """
    name = archive.name
    if name.endswith(".whl") or zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.namelist() if m.endswith(MEMBER)]
            if not members:
                raise KeyError(f"{archive} has no {MEMBER} (use a SciPy <= 1.11 wheel)")
            return zf.read(members[0])
    if name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive, "r:gz") as tf:
            members = [m for m in tf.getmembers() if m.name.endswith(MEMBER)]
            if not members:
                raise KeyError(f"{archive} has no {MEMBER} (use a SciPy <= 1.11 sdist)")
            handle = tf.extractfile(members[0])
            assert handle is not None
            return handle.read()
    raise ValueError(f"{archive}: expected a SciPy wheel (.whl) or sdist (.tar.gz)")


def main(argv: list[str] | None = None) -> int:
    """Fetch, verify and write the record and its licence file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=pathlib.Path, help="a SciPy <= 1.11 wheel or sdist (default: pip download)")
    parser.add_argument("--out-dir", type=pathlib.Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        archive = args.wheel if args.wheel is not None else _download(pathlib.Path(tmp))
        data = extract(archive)
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        print(f"{MEMBER} from {archive} has sha256 {digest}, expected {SHA256}", file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / OUT_NAME
    out.write_bytes(data)
    (args.out_dir / LICENSE_NAME).write_text(LICENSE_TEXT, encoding="utf-8")
    print(f"wrote {out} ({len(data)} bytes, sha256 {digest}) and {args.out_dir / LICENSE_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
