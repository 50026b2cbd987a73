#!/usr/bin/env python3
"""Regenerate gen/python (messages, gRPC stubs, .pyi) and gen/go from protos/.

    python scripts/gen.py          # rewrite gen/
    python scripts/gen.py --check  # exit 1 when gen/ is stale (CI)

Python code comes from grpc_tools.protoc (pinned in pyproject's dev extra) and
Go code from Debian's protoc-gen-go / protoc-gen-go-grpc, so the output is
reproducible on any machine set up by scripts/setup-dev.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
VENDORED = ROOT / "third_party" / "googleapis"
GEN = ROOT / "gen"
PY_PACKAGE_INIT = "lakehouse/v1/__init__.py"
GO_PLUGINS = ("protoc-gen-go", "protoc-gen-go-grpc")


def _protoc(args: list[str]) -> None:
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    argv = ["protoc", f"-I{PROTO_ROOT}", f"-I{VENDORED}", f"-I{well_known}", *args]
    if protoc.main(argv) != 0:
        raise SystemExit(f"protoc failed: {' '.join(args)}")


def generate(out: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    py_out = out / "python"
    go_out = out / "go"
    py_out.mkdir(parents=True, exist_ok=True)
    go_out.mkdir(parents=True, exist_ok=True)
    _protoc([f"--python_out={py_out}", f"--pyi_out={py_out}", f"--grpc_python_out={py_out}", *protos])
    (py_out / PY_PACKAGE_INIT).write_text('"""Generated Lakehouse v1 messages and gRPC stubs (scripts/gen.py)."""\n')
    missing = [p for p in GO_PLUGINS if shutil.which(p) is None]
    if missing:
        raise SystemExit(f"missing Go protoc plugins {missing}: run scripts/setup-dev")
    _protoc(
        [
            f"--go_out={go_out}",
            "--go_opt=paths=source_relative",
            f"--go-grpc_out={go_out}",
            "--go-grpc_opt=paths=source_relative",
            *protos,
        ]
    )


def _tree(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "gen"
        generate(fresh)
        want, have = _tree(fresh), _tree(GEN)
        stale = sorted(
            set(want) ^ set(have)
            | {k for k in set(want) & set(have) if not filecmp.cmp(want[k], have[k], shallow=False)}
        )
    if stale:
        print("gen/ is stale; run `python scripts/gen.py`. Differing files:", *stale, sep="\n  ")
        return 1
    print("gen/ is up to date")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when gen/ differs from a fresh generation")
    args = parser.parse_args()
    if args.check:
        return check()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "gen"
        generate(fresh)
        for sub in ("python", "go"):
            shutil.rmtree(GEN / sub, ignore_errors=True)
            shutil.copytree(fresh / sub, GEN / sub)
    print(f"generated {GEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
