"""The guard's path policy (ddperm.guard.check_path): examples and hypothesis properties.

The oracle here (``_looks_safe``) is written independently of the guard: it states what
an accepted path must never contain, so a regression in either shows up as a failure.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ddperm.errors import PolicyError
from ddperm.guard import MAX_PATH, SYSTEM_FOLDERS, check_path

RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in "0123456789\u00b9\u00b2\u00b3"
}
PROTECTED = {"windows", "program files", "program files (x86)", "system volume information"}


def _looks_safe(path: str) -> bool:
    """Every invariant an accepted path must satisfy (independent of the guard's code)."""
    if not re.fullmatch(r"[A-Z]:(\\[^\\/\[\]`]+)+", path):
        return False
    folded = unicodedata.normalize("NFKC", path)
    if ":" in path[2:] or ":" in folded[2:] or "\\" in folded[3:].replace("\\", ""):
        return False
    segments = path[3:].split("\\")
    if segments[0].lower() in PROTECTED or segments[0].startswith("$"):
        return False
    for seg in segments:
        if seg in (".", "..") or seg.endswith((".", " ")) or re.search(r"~\d", seg):
            return False
        if seg.split(".")[0].strip().upper() in RESERVED:
            return False
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in seg):
            return False
    return all(seg not in ("", ".", "..") for seg in folded[3:].split("\\"))


# -- examples -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_path", "canonical"),
    [
        (r"C:\ProgramData\DockerDesktop\vm-data", r"C:\ProgramData\DockerDesktop\vm-data"),
        ("d:/Docker/wsl/", r"D:\Docker\wsl"),
        (r"c:\Users\dev\AppData\Local\Docker", r"C:\Users\dev\AppData\Local\Docker"),
        (r"E:\VMs\José Müller\日本語 data", r"E:\VMs\José Müller\日本語 data"),
        (r"C:\Users\dev\Straße", r"C:\Users\dev\Straße"),
        (r"C:\data\.hidden", r"C:\data\.hidden"),
        (r"C:\data\CONSOLE", r"C:\data\CONSOLE"),  # only the exact device names are reserved
    ],
)
def test_good_paths_are_accepted_in_canonical_form(given_path: str, canonical: str) -> None:
    assert check_path(given_path) == canonical
    assert check_path(canonical) == canonical


@pytest.mark.parametrize(
    ("evil", "reason"),
    [
        (r"C:\Config.Msi::$INDEX_ALLOCATION", "alternate data stream"),
        (r"C:\Config.Msi", "system location"),
        (r"C:\data\vm.vhdx:hidden", "alternate data stream"),
        (r"C:\data\vm.vhdx::$DATA", "alternate data stream"),
        (r"\\server\share\data", "UNC"),
        ("//server/share/data", "UNC"),
        (r"\\?\C:\data", "UNC or device"),
        (r"\\.\PhysicalDrive0", "UNC or device"),
        (r"\\?\GLOBALROOT\Device\HarddiskVolume1", "UNC or device"),
        (r"\??\C:\data", "absolute"),
        (r"\data", "absolute"),
        ("data", "absolute"),
        ("C:data", "absolute"),
        (r"C:\data\..\Windows", "'..'"),
        (r"C:\data\.\x", "'..'"),
        (r"C:\data\...", "dot or space"),
        (r"C:\data\x.", "dot or space"),
        (r"C:\data\x ", "white space"),
        (r"C:\data\x \y", "dot or space"),
        (r"C:\data\\x", "empty segment"),
        (r"C:\data\NUL", "reserved"),
        (r"C:\data\con.txt", "reserved"),
        (r"C:\data\Com1.log.bak", "reserved"),
        ("C:\\data\\LPT\u00b9", "pass for ASCII"),  # superscript one
        (r"C:\data\NUL .txt", "reserved"),
        (r"C:\data\CONOUT$", "reserved"),
        (r"C:\PROGRA~1\Docker", "short name"),
        ("C:\\", "root of a drive"),
        ("c:/", "root of a drive"),
        (r"C:\Windows", "system location"),
        (r"c:\windows\System32\drivers", "system location"),
        (r"D:\Program Files\Docker", "system location"),
        (r"C:\Program Files (x86)", "system location"),
        (r"C:\ProgramData", "system location"),
        (r"C:\ProgramData\Microsoft\Crypto", "system location"),
        (r"C:\Users", "system location"),
        (r"C:\Users\Public\data", "system location"),
        (r"C:\$Recycle.Bin\x", "system location"),
        (r"C:\$MFT", "system location"),
        (r"C:\$Extend\$RmMetadata", "system location"),
        (r"C:\Windows.old\x", "system location"),
        (r"C:\Documents and Settings\dev", "system location"),
        ("C:\\data\x00x", "control"),
        ("C:\\data\\x\ty", "control"),
        ("C:\\data\\\u202egnp.exe", "invisible"),  # right-to-left override
        ("C:\\data\\a\u200bb", "invisible"),  # zero-width space
        ("C:\\data\\a\ufeffb", "invisible"),
        ("C:\\data\\a\u00a0b", "space character"),
        ("C:\\data\uff1a\uff1a$INDEX_ALLOCATION", "pass for ASCII"),  # fullwidth colon
        ("C:\\data\uff3c..\uff3cWindows", "pass for ASCII"),  # fullwidth backslash
        ("C:\\data\\\uff0e\uff0e", "pass for ASCII"),  # fullwidth full stops
        ("C:\\\uff37indows\\x", "pass for ASCII"),  # fullwidth W
        ("C:\\W\u0131ndows\\x", "pass for ASCII"),  # dotless i upper-cases to I
        ("C:\\data\\\u212aey", "pass for ASCII"),  # Kelvin sign lower-cases to k
        ("C:\\data\\\u2024\u2024", "pass for ASCII"),  # one dot leader
        ("C:\\data\u00a5..\u00a5Windows", "pass for ASCII"),  # yen: best fit to '\'
        ("C:\\data\u2215x", "pass for ASCII"),  # division slash
        ("C:\\data\\\ud800", "invisible"),  # lone surrogate
        ("C:\\data\\a<b", "forbids"),
        ('C:\\data\\a"b', "forbids"),
        ("C:\\data\\a*", "forbids"),
        ("C:\\data\\[a-z]", "wildcard"),
        ("C:\\data\\a`b", "wildcard"),
        (" C:\\data", "white space"),
        ("C:\\" + "a" * 256, "longer than 255"),
        ("C:\\" + "\\".join(["abcdefghi"] * 30), "characters long"),
        ("", "characters long"),
    ],
)
def test_evil_paths_are_refused_with_a_clear_reason(evil: str, reason: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(reason)):
        check_path(evil, what="data folder")


@pytest.mark.parametrize("value", [None, 3, b"C:\\data", ["C:\\data"], object()])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(PolicyError, match="must be a string"):
        check_path(value)


def test_a_str_subclass_cannot_change_what_is_checked() -> None:
    class Sneaky(str):
        def replace(self, *args: object, **kwargs: object) -> str:  # type: ignore[override]
            return "C:\\data\\safe"

        def strip(self, *args: object) -> str:  # type: ignore[override]
            return "C:\\data\\safe"

    with pytest.raises(PolicyError, match="UNC"):
        check_path(Sneaky("\\\\server\\share\\x"))


def test_the_refusal_names_what_was_refused() -> None:
    with pytest.raises(PolicyError, match=r"^data folder .*'C:\\\\Windows'"):
        check_path(r"C:\Windows", what="data folder")


def test_a_read_only_path_may_be_in_a_system_location_and_nothing_else_changes() -> None:
    iso = r"C:\Program Files\Docker\Docker\resources\docker-desktop.iso"
    with pytest.raises(PolicyError, match="protected system location"):
        check_path(iso)
    assert check_path(iso.lower(), read_only=True) == "C:" + iso.lower()[2:]
    for evil in (r"C:\Program Files\..\Windows\x.iso", "\\\\srv\\share\\x.iso", r"C:\x\a*.iso"):
        with pytest.raises(PolicyError):
            check_path(evil, read_only=True)


# -- properties ---------------------------------------------------------------------

_SAFE_CHARS = st.sampled_from(list("abcxyzABCXYZ0189-_()#@!'+=,;{}&%éüñøßæ日本語데이터"))
_NAME = st.builds(
    lambda head, mid, tail: head + "_" + mid + tail,  # the '_' keeps it off reserved names
    st.text(_SAFE_CHARS, min_size=1, max_size=8),
    st.text(st.sampled_from(list("abc XYZ.-é0$")), max_size=8),
    st.text(_SAFE_CHARS, min_size=1, max_size=4),
)


@st.composite
def good_paths(draw: st.DrawFn) -> tuple[str, str]:
    """A safe path as a user might type it, with the canonical form it must become."""
    drive = draw(st.sampled_from("CDEcdez"))
    segments = draw(st.lists(_NAME, min_size=1, max_size=5))
    seps = [draw(st.sampled_from(["\\", "/"])) for _ in segments]
    text = drive + ":" + "".join(sep + seg for sep, seg in zip(seps, segments, strict=True))
    if draw(st.booleans()):
        text += draw(st.sampled_from(["\\", "/"]))
    return text, drive.upper() + ":\\" + "\\".join(segments)


@given(good_paths())
def test_generated_good_paths_are_accepted_canonical_and_idempotent(
    case: tuple[str, str],
) -> None:
    text, canonical = case
    assume(len(text) <= MAX_PATH)
    result = check_path(text)
    assert result == canonical
    assert check_path(result) == result
    assert _looks_safe(result)


_EVIL_SEGMENTS = st.sampled_from(
    [
        "..",
        ".",
        "...",
        "x.",
        "x ",
        "Config.Msi::$INDEX_ALLOCATION",
        "vm.vhdx:evil",
        "a\uff1ab",
        "a\uff3cb",
        "\uff0e\uff0e",
        "a\u202eb",
        "a\u2066b",
        "a\u200db",
        "a\x00b",
        "a\x1fb",
        "a\x7fb",
        "a\u2028b",
        "PROGRA~1",
        "a?b",
        "a|b",
    ]
)
_RESERVED_SEGMENT = st.builds(
    lambda name, ext, spaces: name + spaces + ext,
    st.sampled_from(sorted(RESERVED)).map(
        lambda n: "".join(c.lower() if i % 2 else c for i, c in enumerate(n))
    ),
    st.sampled_from(["", ".txt", ".a.b", ".vhdx"]),
    st.sampled_from(["", " ", "  "]),
)
_EVIL_PREFIXES = st.sampled_from(
    [
        "\\\\server\\share\\",
        "//server/share/",
        "\\\\?\\C:\\",
        "\\\\.\\C:\\",
        "\\??\\C:\\",
        "\\",
        "",
        "C:",
        "1:\\",
        "\uff23:\\",
    ]
)
_SYSTEM_ROOTS = st.sampled_from(
    [folder.lstrip("\\") for folder in SYSTEM_FOLDERS] + ["Config.Msi", "$Extend", "Windows.old"]
)


def _random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c.lower() for c, f in zip(text, flips, strict=True))


@st.composite
def evil_paths(draw: st.DrawFn) -> str:
    """A good path with one thing wrong with it."""
    text, _ = draw(good_paths())
    drive, rest = text[:2], text[2:].rstrip("\\/")
    parts = [p for p in re.split(r"[\\/]", rest) if p]
    kind = draw(st.sampled_from(["segment", "reserved", "prefix", "system", "root", "ads"]))
    if kind == "segment":
        parts.insert(draw(st.integers(0, len(parts))), draw(_EVIL_SEGMENTS))
    elif kind == "reserved":
        parts.insert(draw(st.integers(0, len(parts))), draw(_RESERVED_SEGMENT))
    elif kind == "prefix":
        return draw(_EVIL_PREFIXES) + "\\".join(parts)
    elif kind == "system":
        root = _random_case(draw, draw(_SYSTEM_ROOTS))
        parts = root.split("\\") + (parts if draw(st.booleans()) else [])
    elif kind == "root":
        return drive + draw(st.sampled_from(["\\", "/", ""]))
    else:
        index = draw(st.integers(0, len(parts) - 1))
        parts[index] += draw(st.sampled_from([":s", "::$DATA", ":$I30:$INDEX_ALLOCATION"]))
    sep = draw(st.sampled_from(["\\", "/"]))
    return drive + sep + sep.join(parts)


@given(evil_paths())
def test_generated_evil_paths_are_all_refused(evil: str) -> None:
    with pytest.raises(PolicyError):
        check_path(evil)


@given(st.text(max_size=40).map(lambda t: "C:\\" + t))
def test_any_text_is_refused_or_accepted_as_a_safe_canonical_path(text: str) -> None:
    try:
        result = check_path(text)
    except PolicyError:
        return
    assert _looks_safe(result), result
    assert check_path(result) == result


@given(st.text(min_size=1, max_size=30), st.text(max_size=30))
def test_any_non_ascii_look_alike_of_a_separator_or_colon_is_refused(a: str, b: str) -> None:
    for look_alike in ("\uff1a", "\uff3c", "\uff0f", "\ufe55", "\ufe13"):
        with pytest.raises(PolicyError):
            check_path("C:\\data\\" + a + look_alike + b)
