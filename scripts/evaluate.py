#!/usr/bin/env python3
"""Evaluate the four detectors on labelled footage and write docs/accuracy.md.

python scripts/evaluate.py --data ../shared/data --output docs/accuracy.md
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from vigil.evaluation import run_evaluation

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="labelled clips")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "accuracy.md", help="markdown report")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    command = "python scripts/evaluate.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(run_evaluation(args.data, args.output, command=command.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
