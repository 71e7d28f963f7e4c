#!/usr/bin/env python3
"""Same as `vigil bench` (see `vigil bench --help`)."""

import sys

from vigil.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
