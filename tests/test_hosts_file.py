"""host.hosts_file: status and ensure on every backend, including how Windows says no."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddperm import hostsfile
from ddperm.components.hosts_file import HostsFileChange
from ddperm.errors import HostError, PolicyError, TransportError
from ddperm.retry import NO_RETRY
from ddperm.scripts import script_root
from ddperm.testing import FakeHost, twin_host
from ddperm.testing.fakehost import HOSTS_PATH, STOCK_HOSTS
from ddperm.testing.fs import ADMINISTRATORS, SYSTEM, USERS, FsErrorKind
from tests.backends import Backend
from tests.fixtures import REAL_WINDOWS

ETC = r"C:\Windows\System32\drivers\etc"
TEMP = HOSTS_PATH + ".ddperm.tmp"
BACKUP = HOSTS_PATH + ".ddperm.bak"
FIXTURES = REAL_WINDOWS / "hosts"
SECTION = (
    b"# Added by ddperm\r\n127.0.0.1 kubernetes.docker.internal\r\n# End of ddperm section\r\n"
)
REAL = [
    pytest.param(data, id=f"{p.stem}-{kind}")
    for p in sorted(FIXTURES.glob("*.txt"))
    for kind, data in (("lf", p.read_bytes()), ("crlf", p.read_bytes().replace(b"\n", b"\r\n")))
]


def seeded(data: bytes | None = STOCK_HOSTS) -> FakeHost:
    fake = FakeHost()
    fake.fs.remove(HOSTS_PATH)
    if data is not None:
        fake.fs.write_bytes(HOSTS_PATH, data)
    return fake


def hosts(fake: FakeHost) -> bytes:
    return fake.fs.read_bytes(HOSTS_PATH)


def test_stock_file_gets_the_entry_once_and_a_second_ensure_changes_nothing(
    backend: Backend,
) -> None:
    assert backend.fake is not None
    before = backend.host.hosts_file.status()
    assert not before.ok
    assert before.entries == 0
    assert before.sections == 0
    change = backend.host.hosts_file.ensure()
    assert change.changed
    assert change.backup_path == BACKUP
    assert hosts(backend.fake) == SECTION + STOCK_HOSTS
    assert backend.fake.fs.read_bytes(BACKUP) == STOCK_HOSTS
    after = backend.host.hosts_file.status()
    assert after.ok
    assert after.entries == 1
    assert after.sections == 1
    assert after.sha256 == change.sha256 == hostsfile.sha256_hex(SECTION + STOCK_HOSTS)
    backend.fake.calls.clear()
    again = backend.host.hosts_file.ensure()
    assert not again.changed
    assert again.sha256 == change.sha256
    assert [name for name, _ in backend.fake.calls] == ["hosts_read"]  # no write at all
    assert hosts(backend.fake) == SECTION + STOCK_HOSTS


@pytest.mark.parametrize("data", REAL)
def test_real_files_keep_every_byte_outside_the_section(
    make_backend: Callable[..., Backend], data: bytes
) -> None:
    fake = seeded(data)
    host = make_backend(fake).host
    assert host.hosts_file.ensure().changed
    written = hosts(fake)
    assert written.endswith(data)
    assert written[: -len(data)] in (SECTION, SECTION.replace(b"\r\n", b"\n"))
    assert not host.hosts_file.ensure().changed
    assert hosts(fake) == written
    status = host.hosts_file.status()
    assert status.ok
    assert status.line_ending == ("CRLF" if b"\r\n" in data else "LF")


def test_bom_crlf_file_is_identical_over_many_ensures(make_backend: Callable[..., Backend]) -> None:
    stock = (
        (FIXTURES / "default-windows-hosts-lf-from-git.txt").read_bytes().replace(b"\n", b"\r\n")
    )
    fake = seeded(hostsfile.UTF8_BOM + stock)  # docker/for-win #8773
    host = make_backend(fake).host
    host.hosts_file.ensure()
    first = hosts(fake)
    assert first == hostsfile.UTF8_BOM + SECTION + stock
    for _ in range(20):
        assert not host.hosts_file.ensure().changed
    assert hosts(fake) == first
    assert host.hosts_file.status().has_bom


def test_nuls_user_entries_and_missing_final_newline_are_preserved(
    make_backend: Callable[..., Backend],
) -> None:
    data = (
        b"\x00\x00\x00\x00" + (FIXTURES / "user-entries-inside-docker-section-zh.txt").read_bytes()
    )
    data = data.replace(b"\n", b"\r\n").rstrip(b"\r\n")
    fake = seeded(data)
    make_backend(fake).host.hosts_file.ensure()
    assert hosts(fake) == SECTION + data


def test_stale_ip_in_own_section_is_corrected(make_backend: Callable[..., Backend]) -> None:
    stale = SECTION.replace(b"127.0.0.1 kubernetes", b"10.9.9.9 kubernetes")
    fake = seeded(b"# mine\r\n" + stale)
    host = make_backend(fake).host
    assert not host.hosts_file.status().ok
    host.hosts_file.ensure()
    assert hosts(fake) == SECTION + b"# mine\r\n"


def test_reset_to_stock_file_gets_the_block_back(backend: Backend) -> None:
    assert backend.fake is not None
    backend.host.hosts_file.ensure()
    backend.fake.fs.write_bytes(HOSTS_PATH, STOCK_HOSTS)  # Defender's HostsFileHijack remedy
    assert not backend.host.hosts_file.status().ok
    assert backend.host.hosts_file.ensure().changed
    written = hosts(backend.fake)
    assert written == SECTION + STOCK_HOSTS
    # Only our one name is ever written: no Microsoft or other domains.
    added = written[: -len(STOCK_HOSTS)]
    names = [ln.split()[1:] for ln in added.splitlines() if not ln.startswith(b"#")]
    assert names == [[b"kubernetes.docker.internal"]]


def test_missing_hosts_file_is_created(make_backend: Callable[..., Backend]) -> None:
    fake = seeded(None)
    host = make_backend(fake).host
    status = host.hosts_file.status()
    assert not status.exists
    assert not status.ok
    change = host.hosts_file.ensure()
    assert change.changed
    assert change.backup_path is None
    assert hosts(fake) == SECTION


def test_acl_survives_the_replace(make_backend: Callable[..., Backend]) -> None:
    fake = seeded()
    acl = {SYSTEM: "FullControl", ADMINISTRATORS: "FullControl", USERS: "Read"}
    fake.fs.set_acl(HOSTS_PATH, acl)
    make_backend(fake).host.hosts_file.ensure()
    assert fake.fs.explicit_acl(HOSTS_PATH) == acl
    assert fake.fs.listdir(ETC) == ["hosts", "hosts.ddperm.bak"]  # no temp file left


# -- refusals: the file is never touched ------------------------------------------------


def _refused(
    make_backend: Callable[..., Backend], fake: FakeHost, error_id: str, **options: Any
) -> HostError:
    before = fake.fs.file_data(HOSTS_PATH).data if fake.fs.exists(HOSTS_PATH) else None
    listing = fake.fs.listdir(ETC)
    with pytest.raises(HostError) as caught:
        make_backend(fake, **options).host.hosts_file.ensure()
    assert caught.value.error_id == error_id
    assert caught.value.exception_type == "System.InvalidOperationException"
    assert caught.value.script in ("hosts_read", "hosts_write")
    assert fake.fs.listdir(ETC) == listing  # no temp, no backup
    if before is not None:
        assert fake.fs.file_data(HOSTS_PATH).data == before
    return caught.value


def test_read_only_file_is_refused_and_stays_read_only(
    make_backend: Callable[..., Backend],
) -> None:
    fake = seeded()
    fake.fs.file_data(HOSTS_PATH).readonly = True
    error = _refused(make_backend, fake, "DdpermHostsReadOnly")
    assert "read-only" in error.message
    assert error.category == "PermissionDenied"
    assert fake.fs.stat(HOSTS_PATH).readonly
    assert make_backend(fake).host.hosts_file.status().readonly


def test_read_only_file_already_in_sync_is_left_alone(make_backend: Callable[..., Backend]) -> None:
    """Users asked Docker not to write when the entries are already right (for-win #2292)."""
    fake = seeded(SECTION + STOCK_HOSTS)
    fake.fs.file_data(HOSTS_PATH).readonly = True
    host = make_backend(fake).host
    assert not host.hosts_file.ensure().changed
    assert [name for name, _ in fake.calls] == ["hosts_read"]
    assert host.hosts_file.status().ok


def test_locked_file_is_refused(make_backend: Callable[..., Backend]) -> None:
    fake = seeded()
    fake.fs.file_data(HOSTS_PATH).locked = True  # antivirus or an editor, sharing nothing
    error = _refused(make_backend, fake, "DdpermHostsLocked")
    assert error.category == "ResourceBusy"
    with pytest.raises(HostError, match="locked"):
        make_backend(fake).host.hosts_file.status()


def test_not_elevated_is_access_denied(make_backend: Callable[..., Backend]) -> None:
    fake = seeded()
    fake.caller.elevated = False
    error = _refused(make_backend, fake, "DdpermHostsAccessDenied")
    assert "elevated" in error.message
    assert not make_backend(fake).host.hosts_file.status().ok  # reading needs no elevation


def test_acl_without_write_for_admins_is_access_denied(
    make_backend: Callable[..., Backend],
) -> None:
    fake = seeded()
    fake.fs.set_acl(HOSTS_PATH, {SYSTEM: "FullControl", USERS: "Read", ADMINISTRATORS: "Read"})
    _refused(make_backend, fake, "DdpermHostsAccessDenied")


def test_oversized_file_is_refused(make_backend: Callable[..., Backend]) -> None:
    fake = seeded(b"# padding\r\n" * (hostsfile.MAX_BYTES // 11 + 1))
    _refused(make_backend, fake, "DdpermHostsTooLarge")


def test_hosts_file_that_is_a_link_is_refused(make_backend: Callable[..., Backend]) -> None:
    fake = seeded(None)
    target = r"C:\Users\dev\my-hosts"
    fake.fs.write_bytes(target, STOCK_HOSTS)
    fake.fs.symlink(HOSTS_PATH, target)
    with pytest.raises(HostError) as caught:
        make_backend(fake).host.hosts_file.ensure()
    assert caught.value.error_id == "DdpermReparsePoint"
    assert fake.fs.read_bytes(target) == STOCK_HOSTS
    assert fake.fs.stat(HOSTS_PATH).is_reparse_point


def test_utf16_file_is_refused_before_any_write(make_backend: Callable[..., Backend]) -> None:
    data = b"\xff\xfe" + "127.0.0.1 nas\r\n".encode("utf-16-le")
    fake = seeded(data)
    host = make_backend(fake).host
    with pytest.raises(PolicyError, match="UTF-16"):
        host.hosts_file.ensure()
    assert [name for name, _ in fake.calls] == ["hosts_read"]
    assert hosts(fake) == data
    assert host.hosts_file.status().unsupported_encoding


@dataclass
class RacingHost(FakeHost):
    """Another program saves the hosts file between ddperm's read and its write."""

    other_edit: bytes = b""

    def execute(self, script: str, params: Mapping[str, Any]) -> object:
        if script == "hosts_write":
            self.fs.write_bytes(HOSTS_PATH, self.other_edit)
        return super().execute(script, params)


def test_concurrent_edit_between_read_and_write_is_kept(
    make_backend: Callable[..., Backend],
) -> None:
    edit = STOCK_HOSTS + b"10.0.0.7 build.corp\r\n"
    fake = RacingHost(other_edit=edit)
    with pytest.raises(HostError) as caught:
        make_backend(fake).host.hosts_file.ensure()
    assert caught.value.error_id == "DdpermHostsChanged"
    assert "changed since ddperm read it" in caught.value.message
    assert fake.fs.listdir(ETC) == ["hosts"]
    assert hosts(fake) == edit  # the other program's edit is not lost
    plain = FakeHost(fs=fake.fs)
    make_backend(plain).host.hosts_file.ensure()
    assert hosts(plain) == SECTION + edit


# A power cut is a twin-model event: the in-process twin shows the dropped link as the
# TransportError a client sees; the wire backends have no way to cut their own power.
@pytest.mark.parametrize("cut_after", [0, 1], ids=["during-temp-write", "during-replace"])
def test_power_cut_mid_write_leaves_the_old_file(cut_after: int) -> None:
    fake = seeded()
    fake.fs.power_cut_after(cut_after)
    with pytest.raises(TransportError):
        twin_host(fake, retry=NO_RETRY).hosts_file.ensure()
    assert hosts(fake) == STOCK_HOSTS  # old, never a prefix of the new file
    twin_host(fake).hosts_file.ensure()
    assert hosts(fake) == SECTION + STOCK_HOSTS
    assert TEMP.rsplit("\\", 1)[1] not in fake.fs.listdir(ETC)


def test_power_cut_is_retried_to_completion() -> None:
    fake = seeded()
    fake.fs.power_cut_after(1)
    assert twin_host(fake).hosts_file.ensure().changed
    assert hosts(fake) == SECTION + STOCK_HOSTS


def test_write_retried_after_it_already_landed_is_not_a_conflict(backend: Backend) -> None:
    """A retry after a dropped connection finds the new bytes already there."""
    assert backend.fake is not None
    read = backend.host.hosts_file.status()
    backend.host.hosts_file.ensure()
    params = {
        "ContentBase64": base64.b64encode(SECTION + STOCK_HOSTS).decode(),
        "ExpectedSha256": read.sha256,
    }
    again = backend.host.executor.call("hosts_write", HostsFileChange, params)
    assert not again.changed


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not base64!", "0" * 64),
        ("QUJD\r\nREVG", "0" * 64),
        ("QUJD", "ABCDEF" + "0" * 58),
        ("QUJD", "0" * 63),
        ("QUJD", "0" * 64 + "\n"),
        ("QUJD\n", "0" * 64),
    ],
)
def test_write_script_refuses_malformed_parameters(
    backend: Backend, content: str, expected: str
) -> None:
    """Defence in depth: the script's own parameter validation, the Python side bypassed."""
    assert backend.fake is not None
    with pytest.raises(HostError) as caught:
        backend.host.executor.call(
            "hosts_write", HostsFileChange, {"ContentBase64": content, "ExpectedSha256": expected}
        )
    assert caught.value.error_id == "ParameterArgumentValidationError"
    assert hosts(backend.fake) == STOCK_HOSTS


@pytest.mark.parametrize(
    ("content", "error_id"),
    [
        ("QUJ", "FormatException"),
        ("A" * 11_184_816, "ParameterArgumentValidationError"),
        ("", "ParameterArgumentValidationErrorEmptyStringNotAllowed"),
    ],
)
def test_write_script_refuses_undecodable_or_oversized_content(
    backend: Backend, content: str, error_id: str
) -> None:
    assert backend.fake is not None
    params = {"ContentBase64": content, "ExpectedSha256": "0" * 64}
    with pytest.raises(HostError) as caught:
        backend.host.executor.call("hosts_write", HostsFileChange, params)
    assert caught.value.error_id == error_id
    assert hosts(backend.fake) == STOCK_HOSTS


@pytest.mark.parametrize(
    "failure", [FsErrorKind.REPLACEMENT_NOT_MOVED, FsErrorKind.REPLACED_IS_BACKUP]
)
def test_a_failed_replace_leaves_the_hosts_file_in_place(
    make_backend: Callable[..., Backend], failure: FsErrorKind
) -> None:
    # ReplaceFile error 1177 has already renamed the hosts file to the backup name when it
    # fails: the script puts it back before it says that nothing was changed.
    fake = seeded()
    fake.fs.fail_next_replace(failure)
    error = _refused(make_backend, fake, "DdpermHostsLocked", retry=NO_RETRY)
    assert "nothing was changed" in error.message
    assert hosts(fake) == STOCK_HOSTS
    assert fake.fs.acl(HOSTS_PATH) == seeded().fs.acl(HOSTS_PATH)


def _script_entry_regex() -> re.Pattern[str]:
    """Get-DdpermHostsEntryCount's regex, taken from lib/HostsFile.ps1 (its options:
    IgnoreCase, Multiline, CultureInvariant; the text is the bytes as ISO-8859-1)."""
    text = (script_root() / "lib" / "HostsFile.ps1").read_text()
    head, tail = re.search(
        r"\$entry = '([^']*)' \+\s*\[regex\]::Escape\(\$DdpermHostsName\) \+ '([^']*)'", text
    ).groups()  # type: ignore[union-attr]
    return re.compile(head + re.escape(hostsfile.KUBERNETES_NAME) + tail, re.I | re.M)


_LINE_PARTS = st.sampled_from(
    [
        "127.0.0.1",
        "kubernetes.docker.internal",
        "KUBERNETES.docker.INTERNAL",
        "x",
        "#",
        " ",
        "\t",
        "\r",
        "\x0b",
        "\x0c",
        "\x1c",
        "\xa0",
        "kubernetes.docker.internalx",
        "a#b",
    ]
)


@given(st.lists(st.lists(_LINE_PARTS, max_size=6).map("".join), max_size=8).map("\n".join))
def test_the_scripts_entry_count_equals_the_planner(text: str) -> None:
    data = text.encode("latin-1")
    assert len(_script_entry_regex().findall(text)) == hostsfile.facts(data).entries


def test_a_100k_line_ad_block_hosts_file_is_handled(backend: Backend) -> None:
    # Such files are common; the script counts entries with one regex, not a pipeline per
    # line (tests/vetting.py refuses pipeline cmdlets in loops), so 5.1 does not crawl.
    fake = backend.fake
    assert fake is not None
    blocklist = b"".join(b"0.0.0.0 ads%d.example.com\r\n" % i for i in range(100_000))
    fake.fs.write_bytes(HOSTS_PATH, STOCK_HOSTS + blocklist)
    assert backend.host.hosts_file.ensure().changed
    status = backend.host.hosts_file.status()
    assert status.ok and status.entries == 1
    assert hosts(fake) == SECTION + STOCK_HOSTS + blocklist
