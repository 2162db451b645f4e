"""What a release ships: the wheel and sdist built from this checkout by hatchling."""

from __future__ import annotations

import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path

import pytest
from hatchling.builders.sdist import SdistBuilder
from hatchling.builders.wheel import WheelBuilder

import ddperm
from ddperm.components import system

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    (built,) = WheelBuilder(str(REPO)).build(directory=str(out), versions=["standard"])
    return zipfile.ZipFile(built)


@pytest.fixture(scope="module")
def sdist_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("sdist")
    (built,) = SdistBuilder(str(REPO)).build(directory=str(out), versions=["standard"])
    with tarfile.open(built) as archive:
        return {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}


def _metadata(wheel: zipfile.ZipFile) -> Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return Parser().parsestr(wheel.read(name).decode())


def test_wheel_ships_the_package_typed_with_its_scripts_and_license(
    wheel: zipfile.ZipFile,
) -> None:
    names = set(wheel.namelist())
    assert "ddperm/py.typed" in names
    assert "ddperm/_ps_scripts/manifest.json" in names
    (license_name,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert wheel.read(license_name) == (REPO / "LICENSE").read_bytes()
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]


def test_wheel_metadata(wheel: zipfile.ZipFile) -> None:
    meta = _metadata(wheel)
    assert meta["Version"] == ddperm.__version__
    assert meta["License-Expression"] == "MIT"
    requires = {r.split(";")[0].split("<")[0].split(">")[0] for r in meta.get_all("Requires-Dist")}
    assert {"rich", "requests", "pydantic", "pypsrp"} <= requires
    classifiers = meta.get_all("Classifier")
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.10" in classifiers
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Changelog", "Security"} <= urls.keys()


def test_sdist_ships_release_files_tests_and_fixtures(sdist_names: set[str]) -> None:
    assert {"LICENSE", "CHANGELOG.md", "SECURITY.md", "README.md", "pyproject.toml"} <= sdist_names
    assert "ddperm/py.typed" in sdist_names
    assert "tests/fixtures/real-windows/SOURCES.md" in sdist_names
    assert not [n for n in sdist_names if n.startswith(("site/", ".venv/"))]


def test_version_is_the_installed_distributions() -> None:
    assert ddperm.__version__ == dist_version("ddperm")


def test_version_without_an_installed_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(system, "_dist_version", missing)
    assert system.ddperm_version() == "0+unknown"
