"""The pure hosts-file planner (ddperm.hostsfile): real files, damaged files, properties."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ddperm import hostsfile
from ddperm.hostsfile import BEGIN, END, UTF8_BOM, facts, plan, section
from ddperm.scripts import script_root
from tests.fixtures import REAL_WINDOWS

FIXTURES = REAL_WINDOWS / "hosts"
REAL_FILES = sorted(FIXTURES.glob("*.txt"))
SECTION_CRLF = (
    b"# Added by ddperm\r\n127.0.0.1 kubernetes.docker.internal\r\n# End of ddperm section\r\n"
)
SECTION_LF = SECTION_CRLF.replace(b"\r\n", b"\n")


def variants(path: Path) -> list[tuple[str, bytes]]:
    """A real file as stored (LF), as on Windows (CRLF), and each with a UTF-8 BOM."""
    lf = path.read_bytes()
    crlf = lf.replace(b"\n", b"\r\n")
    return [("lf", lf), ("crlf", crlf), ("bom-lf", UTF8_BOM + lf), ("bom-crlf", UTF8_BOM + crlf)]


REAL = [pytest.param(data, id=f"{p.stem}-{kind}") for p in REAL_FILES for kind, data in variants(p)]


def test_every_fixture_file_is_used() -> None:
    assert len(REAL_FILES) == 9


@pytest.mark.parametrize("data", REAL)
def test_real_file_gets_the_section_on_top_and_keeps_every_byte(data: bytes) -> None:
    bom = UTF8_BOM if data.startswith(UTF8_BOM) else b""
    body = data[len(bom) :]
    eol = SECTION_CRLF if body.count(b"\r\n") * 2 >= body.count(b"\n") else SECTION_LF
    out = plan(data)
    assert out == bom + eol + body
    assert plan(out) == out
    assert facts(out).in_sync
    assert not facts(data).in_sync


@pytest.mark.parametrize(
    "name",
    [
        "user-entries-inside-docker-section-zh",
        "stale-duplicate-entries-outside-section-appveyor-3415",
    ],
)
def test_docker_section_users_lines_and_stale_duplicates_stay(name: str) -> None:
    data = (FIXTURES / f"{name}.txt").read_bytes().replace(b"\n", b"\r\n")
    out = plan(data)
    for line in data.splitlines(keepends=True):
        assert line in out  # *.douyin.com, www.douyin.com, stale 10.118.232.3 lines
    assert facts(out).docker_sections == 1
    # Docker's own kubernetes line and ours: the name is mapped twice, ours first.
    assert facts(out).entries == 2
    assert out.index(b"127.0.0.1 kubernetes.docker.internal\r\n# End of ddperm") == len(
        b"# Added by ddperm\r\n"
    )


def test_older_docker_for_windows_header_counts_as_docker_section() -> None:
    data = (FIXTURES / "docker-for-windows-older-header-alfresco-docs.txt").read_bytes()
    assert facts(data).docker_sections == 1
    assert facts(data).entries == 0


def test_bom_and_crlf_survive_many_runs_without_growth() -> None:  # docker/for-win #8773
    data = (FIXTURES / "default-windows-hosts-lf-from-git.txt").read_bytes()
    data = UTF8_BOM + data.replace(b"\n", b"\r\n")
    first = plan(data)
    current = first
    for _ in range(50):
        current = plan(current)
        assert current == first
    assert first.startswith(UTF8_BOM + SECTION_CRLF)
    assert first.count(UTF8_BOM) == 1
    assert b"\r\r\n" not in first


def test_doubled_cr_lines_are_kept_as_they_are() -> None:
    data = b"# damaged\r\r\n10.0.0.1 a.example\r\r\n"
    assert plan(data) == SECTION_CRLF + data


def test_nuls_and_missing_final_newline_are_preserved() -> None:  # #6038
    data = b"\x00\x00\x00\x00# Added by Docker Desktop\r\n10.0.0.2 host.docker.internal"
    out = plan(data)
    assert out == SECTION_CRLF + data
    assert plan(out) == out


def test_mixed_line_endings_follow_the_dominant_style() -> None:
    mostly_lf = b"a.example 1\nb 2\nc 3\r\n"
    assert plan(mostly_lf).startswith(SECTION_LF)
    tie = b"x\ny\r\n"
    assert plan(tie).startswith(SECTION_CRLF)
    assert plan(b"") == SECTION_CRLF


def test_own_section_elsewhere_moves_to_top_and_users_lines_inside_stay_in_place() -> None:
    data = (
        b"# mine\r\n"
        b"# Added by ddperm\r\n"
        b"10.9.9.9 kubernetes.docker.internal\r\n"  # a stale IP of ours (#13916): corrected
        b"192.168.0.5 nas.home  # user's line inside our markers\r\n"
        b"\r\n"
        b"# End of ddperm section\r\n"
        b"1.2.3.4 after.example\r\n"
    )
    out = plan(data)
    assert out == SECTION_CRLF + (
        b"# mine\r\n"
        b"192.168.0.5 nas.home  # user's line inside our markers\r\n"
        b"\r\n"
        b"1.2.3.4 after.example\r\n"
    )
    assert b"10.9.9.9" not in out


def test_duplicate_sections_and_stray_markers_collapse_to_one() -> None:
    block = SECTION_CRLF
    data = (
        block + b"keep 1\r\n" + block + b"# End of ddperm section\r\n# ADDED BY DDPERM  \r\nkeep 2"
    )
    out = plan(data)
    assert out == SECTION_CRLF + b"keep 1\r\nkeep 2"
    assert facts(data).sections == 3
    assert facts(out).sections == 1


def test_unclosed_begin_marker_keeps_the_lines_after_it() -> None:
    data = b"# Added by ddperm\r\n127.0.0.1 kubernetes.docker.internal\r\nuser 1\r\n"
    out = plan(data)
    # Without an end marker nothing after the begin marker is provably ours.
    assert out == SECTION_CRLF + b"127.0.0.1 kubernetes.docker.internal\r\nuser 1\r\n"
    assert plan(out) == out


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff"])
def test_wide_encodings_are_refused_and_reported(bom: bytes) -> None:
    data = bom + "127.0.0.1 x\r\n".encode("utf-16-le")
    with pytest.raises(hostsfile.UnsupportedHostsFile):
        plan(data)
    assert facts(data).unsupported_encoding
    assert not facts(data).in_sync


@pytest.mark.parametrize(
    "names",
    [
        [],
        ["Kubernetes.docker.internal"],
        ["a b"],
        ["evil.com\r\n1.2.3.4 x"],
        ["kubernetes.docker.internal\n"],
        ["*.docker.io"],
        ["a..b"],
        ["١.example"],
    ],
)
def test_names_are_strictly_checked(names: list[str]) -> None:
    with pytest.raises(ValueError, match=r"host name|DNS name"):
        plan(b"", names)


@pytest.mark.parametrize(
    "ip", ["127.0.0.1\r\nx", "127.0.0.1\n", "256.0.0.1", "::1", "127.0.0.1 evil", "١٢٧.0.0.1"]
)
def test_ip_is_strictly_checked(ip: str) -> None:
    with pytest.raises(ValueError, match="IPv4"):
        section(b"\r\n", ("kubernetes.docker.internal",), ip)


# -- properties ------------------------------------------------------------------------

_MARKS = {BEGIN.lower(), END.lower()}
_INTERESTING = [
    b"127.0.0.1 kubernetes.docker.internal",
    b"10.0.0.4 host.docker.internal",
    b"# Added by Docker Desktop",
    b"# End of section",
    b"#\t127.0.0.1       localhost",
    b"\x00\x00\x00",
    b"",
    b"   ",
    "127.0.0.1 ümlaut.example".encode(),
    "# 注释".encode("gbk"),
]
_EOLS = [b"\r\n", b"\n", b"\r\r\n"]
WIDE_BOMS = hostsfile.WIDE_BOMS  # plan() refuses these (tested above)


def _is_marker(line: bytes) -> bool:
    return line.rstrip(b"\r\n").strip(b" \t\r").lower() in _MARKS


text_lines = st.one_of(st.sampled_from(_INTERESTING), st.binary(max_size=40)).map(
    lambda b: b.replace(b"\n", b"")
)
user_lines = st.tuples(text_lines, st.sampled_from(_EOLS)).map(lambda t: t[0] + t[1])


@st.composite
def marker_free_files(draw: st.DrawFn) -> bytes:
    """Any hosts file without ddperm markers, a BOM or none, with or without a last newline."""
    body = [ln for ln in draw(st.lists(user_lines, max_size=20)) if not _is_marker(ln)]
    tail = draw(text_lines)
    data = b"".join(body) + (b"" if _is_marker(tail) else tail)
    assume(not data.startswith(WIDE_BOMS))
    return draw(st.sampled_from([b"", UTF8_BOM])) + data


@given(marker_free_files())
def test_property_everything_outside_the_section_is_kept_byte_for_byte(data: bytes) -> None:
    bom = UTF8_BOM if data.startswith(UTF8_BOM) else b""
    body = data[len(bom) :]
    assert plan(data) in (bom + SECTION_CRLF + body, bom + SECTION_LF + body)


@st.composite
def files_with_sections(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(file, the user's lines in order): user lines mixed with closed ddperm sections that
    hold our entries (any IP) and user lines of their own."""
    ours = st.sampled_from(
        [b"127.0.0.1 kubernetes.docker.internal", b"10.1.2.3  KUBERNETES.docker.internal # old"]
    )
    out: list[bytes] = []
    kept: list[bytes] = []
    for _ in range(draw(st.integers(0, 6))):
        eol = draw(st.sampled_from(_EOLS))
        if draw(st.booleans()):
            inner = [(draw(ours) + eol, False) for _ in range(draw(st.integers(0, 2)))]
            inner += [(ln, True) for ln in draw(st.lists(user_lines, max_size=3))]
            inner = draw(st.permutations(inner))
            out.append(BEGIN + eol)
            for line, users in inner:
                if users and (_is_marker(line) or _only_ours(line)):
                    continue
                out.append(line)
                kept.extend([line] if users else [])
            out.append(END + eol)
        else:
            line = draw(user_lines)
            if not _is_marker(line):
                out.append(line)
                kept.append(line)
    data = b"".join(out)
    assume(not data.startswith((*WIDE_BOMS, UTF8_BOM)))  # BOMs have their own tests
    return data, b"".join(kept)


def _only_ours(line: bytes) -> bool:
    names = line.split(b"#", 1)[0].split()[1:]
    return bool(names) and all(n.lower() == b"kubernetes.docker.internal" for n in names)


@given(files_with_sections())
def test_property_users_lines_survive_and_only_ours_go(case: tuple[bytes, bytes]) -> None:
    data, users = case
    out = plan(data)
    assert out.endswith(users)
    assert len(out) - len(users) in (len(SECTION_CRLF), len(SECTION_LF))


any_file = st.binary(max_size=300).filter(lambda b: not b.startswith(WIDE_BOMS))
mixed_file = st.one_of(any_file, marker_free_files(), files_with_sections().map(lambda c: c[0]))


@given(mixed_file)
def test_property_idempotent_and_no_growth_over_runs(data: bytes) -> None:
    first = plan(data)
    current = first
    for _ in range(5):
        current = plan(current)
        assert current == first
    assert facts(first).in_sync


@given(mixed_file)
def test_property_exactly_one_section_with_exactly_one_entry(data: bytes) -> None:
    out = plan(data)
    lines = hostsfile.lines(out[3:] if out.startswith(UTF8_BOM) else out)
    assert sum(_is_marker(ln) for ln in lines) == 2
    begin = next(i for i, ln in enumerate(lines) if _is_marker(ln))
    inside = lines[begin + 1 : begin + 2]
    assert [ln.rstrip(b"\r\n") for ln in inside] == [b"127.0.0.1 kubernetes.docker.internal"]
    assert _is_marker(lines[begin + 2])
    assert facts(out).sections == 1


names_list = st.lists(
    st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z][a-z0-9]{0,10}){0,2}", fullmatch=True),
    min_size=1,
    max_size=40,
)


@given(names_list)
def test_property_never_more_than_nine_names_on_a_line(names: list[str]) -> None:
    out = plan(b"", names)
    entries = [ln.split() for ln in out.splitlines() if not ln.startswith(b"#")]
    assert all(2 <= len(tokens) <= 10 for tokens in entries)
    mapped = [n.decode() for tokens in entries for n in tokens[1:]]
    assert sorted(mapped) == sorted(set(names))
    assert plan(out, names) == out


def test_host_side_constants_equal_the_planners() -> None:
    """lib/HostsFile.ps1 builds the same section and recognises the same markers."""
    text = (script_root() / "lib" / "HostsFile.ps1").read_text()

    def value(name: str) -> str:
        found = re.search(rf"^\${name} = '([^']*)'$", text, re.MULTILINE)
        assert found is not None, name
        return found[1]

    assert value("DdpermHostsBegin").encode() == BEGIN
    assert value("DdpermHostsEnd").encode() == END
    assert value("DdpermHostsEntry") == f"{hostsfile.HOSTS_IP} {hostsfile.KUBERNETES_NAME}"
    assert value("DdpermHostsName") == hostsfile.KUBERNETES_NAME
    assert re.search(r"^\$DdpermHostsMaxBytes = 8MB$", text, re.MULTILINE)
    assert hostsfile.MAX_BYTES == 8 * 2**20
    for marker in (BEGIN, END, *hostsfile.DOCKER_HEADERS):
        assert marker.decode().lower() in text


# Get-DdpermHostsStatus decides in_sync without the planner: the file (after a BOM) starts
# with the section in some line ending, the rest has no marker line, and the rest's dominant
# line ending is that one. This port of its logic checks that it agrees with plan().
_PS_MARKERS = re.compile(
    rb"^[ \t\r]*(# added by ddperm|# end of ddperm section)[ \t\r]*$", re.I | re.M
)


def _ps_in_sync(data: bytes) -> bool:
    body = data[3:] if data.startswith(UTF8_BOM) else data
    for eol in (b"\r\n", b"\n"):
        head = section(eol)
        rest = body[len(head) :]
        if body.startswith(head) and not _PS_MARKERS.search(rest):
            crlf = rest.count(b"\r\n")
            if (b"\n" if rest.count(b"\n") - crlf > crlf else b"\r\n") == eol:
                return True
    return False


@given(mixed_file, st.sampled_from([b"", b"\n", b"\r\n", b"x", b"# End of ddperm section"]))
def test_property_host_side_in_sync_agrees_with_the_planner(data: bytes, extra: bytes) -> None:
    for candidate in (data, plan(data), plan(data) + extra, extra + plan(data)):
        if not candidate.startswith(WIDE_BOMS):
            assert _ps_in_sync(candidate) == facts(candidate).in_sync
