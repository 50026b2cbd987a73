"""A larger, random run of the REST fuzz test (CI runs a fixed ~1 minute sample).

    python bench/fuzz_rest.py                  # 1,000 random requests per REST method
    python bench/fuzz_rest.py --examples 5000

It runs tests/integration/test_rest_fuzz.py with a new random seed; a failure
prints the smallest request hypothesis could shrink it to.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EXAMPLES = 1000  # per REST method


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, help="requests to draw per method")
    args = parser.parse_args()
    env = {**os.environ, "LAKEHOUSE_FUZZ_EXAMPLES": str(args.examples), "LAKEHOUSE_FUZZ_RANDOM": "1"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--timeout=0",
        "tests/integration/test_rest_fuzz.py",
    ]
    return subprocess.call(command, cwd=REPO, env=env)


if __name__ == "__main__":
    sys.exit(main())
