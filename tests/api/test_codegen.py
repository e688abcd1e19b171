"""The checked-in generated code matches protos/, and imports as part of the package."""

from __future__ import annotations

import shutil
from pathlib import Path

from ocs.api import codegen


def test_checked_in_generated_code_is_what_protos_produce() -> None:
    assert codegen.stale_files() == [], "run `make protos` and commit the result"


def test_a_changed_proto_makes_the_generated_code_stale(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(codegen.ROOT / "protos", root / "protos")
    shutil.copytree(codegen.ROOT / codegen.PACKAGE_DIR, root / codegen.PACKAGE_DIR)
    assert codegen.stale_files(root) == []
    common = root / "protos" / codegen.PACKAGE_DIR / "common.proto"
    common.write_text(common.read_text().replace("string source = 11;", "string origin = 11;"))
    assert "common_pb2.py" in codegen.stale_files(root)


def test_version_stamps_alone_do_not_count_as_stale() -> None:
    text = (codegen.ROOT / codegen.PACKAGE_DIR / "balance_pb2.py").read_text()
    bumped = text.replace("# Protobuf Python Version: ", "# Protobuf Python Version: 99.")
    bumped = bumped.replace(
        "_runtime_version.Domain.PUBLIC,\n    ", "_runtime_version.Domain.PUBLIC,\n    9"
    )
    assert bumped != text
    assert codegen.normalised(bumped) == codegen.normalised(text)
    grpc_text = (codegen.ROOT / codegen.PACKAGE_DIR / "balance_pb2_grpc.py").read_text()
    assert "GRPC_GENERATED_VERSION = '" in grpc_text
    bumped = grpc_text.replace("GRPC_GENERATED_VERSION = '", "GRPC_GENERATED_VERSION = '9")
    assert codegen.normalised(bumped) == codegen.normalised(grpc_text)


def test_generated_modules_import_from_the_installed_package() -> None:
    from ocs.api.v1 import admin_pb2, balance_pb2_grpc, credit_control_pb2

    assert credit_control_pb2.DESCRIPTOR.package == "ocs.v1"
    assert admin_pb2.DESCRIPTOR.name == "ocs/api/v1/admin.proto"
    assert hasattr(balance_pb2_grpc, "BalanceStub")
