"""Run the digits demo: ``python -m signxai_tools.demo`` (see ``signxai demo -h``)."""

from __future__ import annotations

import sys

from signxai_tools.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
