"""The VM pin and the path re-check, attacked on purpose (CVE-2022-25365, -31647, -34292)."""

from __future__ import annotations

import re

import pytest

from ddperm.guard import SYSTEM_FOLDERS
from ddperm.scripts import script_root
from ddperm.testing import ErrorRecord, FakeFileSystem
from ddperm.testing.jobs.hyperv import assert_safe_path

DATA = r"C:\ProgramData\DockerDesktop\vm-data"


def _fqid(fs: FakeFileSystem, path: str) -> str:
    with pytest.raises(ErrorRecord) as info:
        assert_safe_path(fs, path)
    return info.value.fqid


def test_paths_library_lists_the_same_system_folders_as_the_guard() -> None:
    text = (script_root() / "lib" / "Paths.ps1").read_text()
    block = re.search(r"\$DdpermSystemFolders = @\((?P<body>.*?)\)\n", text, re.DOTALL)
    assert block is not None
    assert tuple(re.findall(r"'([^']*)'", block["body"])) == SYSTEM_FOLDERS


def test_safe_path_accepts_plain_folders_existing_or_not() -> None:
    fs = FakeFileSystem()
    fs.mkdir(DATA)
    assert assert_safe_path(fs, DATA) == DATA
    assert assert_safe_path(fs, r"c:\ProgramData\new\deeper") == r"C:\ProgramData\new\deeper"


@pytest.mark.parametrize(
    "link",
    [r"C:\ProgramData\DockerDesktop", DATA, DATA + r"\DockerDesktop.vhdx"],
)
def test_any_link_on_the_path_is_refused(link: str) -> None:
    fs = FakeFileSystem()
    fs.mkdir(r"C:\Windows\System32")
    fs.mkdir(r"C:\ProgramData")
    if link.endswith(".vhdx"):
        fs.mkdir(DATA)
        fs.symlink(link, r"C:\Windows\System32\ualapi.dll")
    else:
        fs.junction(link, r"C:\Windows\System32")
    assert _fqid(fs, DATA + r"\DockerDesktop.vhdx") == "DdpermReparsePoint"


def test_dangling_link_is_refused() -> None:
    fs = FakeFileSystem()
    fs.symlink(DATA + r"\DockerDesktop.vhdx", r"C:\nowhere\x.dll")
    assert _fqid(fs, DATA + r"\DockerDesktop.vhdx") == "DdpermReparsePoint"


@pytest.mark.parametrize(
    "path",
    [r"C:\Windows\Temp\x", r"D:\windows", r"C:\Program Files\Docker", r"c:\PROGRAMDATA\Microsoft"],
)
def test_system_folders_are_refused_on_any_drive(path: str) -> None:
    fs = FakeFileSystem(("C:", "D:"))
    assert _fqid(fs, path) == "DdpermSystemPath"


@pytest.mark.parametrize(
    "path",
    [
        "",
        "relative\\x",
        r"\\server\share\x",
        r"C:\a\..\Windows",
        r"C:\PROGRA~1\x",
        r"C:\a:stream",
        "C:\\a\\b.",
        "C:\\a\x00b",
        "C:/Windows",
        "C:\\",
    ],
)
def test_malformed_paths_are_refused(path: str) -> None:
    assert _fqid(FakeFileSystem(), path) == "DdpermUnsafePath"
