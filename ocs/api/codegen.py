"""Generate the Python modules of the gRPC API from ``protos/`` (``make protos``).

The ``.proto`` files live under ``protos/ocs/api/v1/`` so the generated modules
(``*_pb2.py``, their ``.pyi`` type stubs and ``*_pb2_grpc.py``) land in
``ocs/api/v1/`` and import each other as ``ocs.api.v1.*``: part of the installed
package, no ``sys.path`` tricks. They are checked in; ``--check`` regenerates
them into a temporary directory and fails if the checked-in files differ
(``tests/api/test_codegen.py`` runs it), so a changed ``.proto`` without
regenerated code cannot pass the suite.

Needs ``grpcio-tools`` (a dev dependency). The version stamps that protoc writes
(protobuf / grpcio versions) are ignored by the comparison, so a newer
``grpcio-tools`` alone does not make the code "stale".
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"
PACKAGE_DIR = Path("ocs") / "api" / "v1"
_STAMPS = re.compile(
    r"^(# Protobuf Python Version: .*"
    r"|GRPC_GENERATED_VERSION = .*"
    r"|    _runtime_version\.Domain\.PUBLIC,\n(    .*,\n)*    .*\n\)"
    r")$",
    re.MULTILINE,
)


def proto_files(protos: Path = PROTOS) -> list[Path]:
    return sorted((protos / PACKAGE_DIR).glob("*.proto"))


def _include_paths() -> list[str]:
    import google.rpc
    import grpc_tools

    tools = Path(grpc_tools.__file__).parent / "_proto"
    googleapis = Path(next(iter(google.rpc.__path__))).parents[1]
    return [str(tools), str(googleapis)]


def generate(out: Path, protos: Path = PROTOS) -> list[Path]:
    """Run protoc over every ``.proto``; returns the files written under ``out``."""
    from grpc_tools import protoc

    files = proto_files(protos)
    if not files:
        raise SystemExit(f"no .proto files under {protos / PACKAGE_DIR}")
    args = [
        "grpc_tools.protoc",
        f"-I{protos}",
        *(f"-I{path}" for path in _include_paths()),
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *(str(f.relative_to(protos)) for f in files),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed (see above)")
    package = out / PACKAGE_DIR
    (package / "__init__.py").write_text('"""Generated from protos/ocs/api/v1 (make protos)."""\n')
    return sorted(p for p in package.iterdir() if p.is_file())


def normalised(text: str) -> str:
    return _STAMPS.sub("<version stamp>", text)


def stale_files(root: Path = ROOT) -> list[str]:
    """Generated files that differ from what ``protos/`` produces now (or are missing/extra)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.name: p.read_text() for p in generate(Path(tmp), root / "protos")}
    current_dir = root / PACKAGE_DIR
    current = {p.name: p.read_text() for p in current_dir.iterdir() if p.is_file()}
    names = sorted(set(fresh) | set(current))
    return [
        name
        for name in names
        if name not in fresh
        or name not in current
        or normalised(fresh[name]) != normalised(current[name])
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("stale generated code, run `make protos`: " + ", ".join(stale), file=sys.stderr)
            return 1
        print("generated code is up to date")
        return 0
    written = generate(ROOT)
    print("generated " + ", ".join(str(p.relative_to(ROOT)) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
