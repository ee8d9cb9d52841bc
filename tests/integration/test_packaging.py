"""`pip install <checkout>` (not editable) carries everything `consultbot demo` reads: the example
workspace, directory and consultations, and the message and drafting templates."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if built.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{built.stderr[-2000:]}")
    [path] = out.glob("consultbot-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_ships_the_example_files_the_demo_reads(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        assert f"bot/demo/examples/{example.name}" in names, example.name
    assert "bot/demo/examples/demo-workspace.yaml" in names


def test_the_wheel_ships_the_templates_and_migrations(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for template in sorted((ROOT / "prompts").rglob("*.j2")):
        assert template.relative_to(ROOT).as_posix() in names, template.name
    assert any(n.startswith("storage/migrations/versions/0001") for n in names)
    assert "storage/alembic.ini" in names or any(n.endswith("migrations/env.py") for n in names)
