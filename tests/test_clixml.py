"""Decoding powershell.exe's stderr: real captures, and round trips with the stand-in's encoder."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ddperm.testing.standin import powershell as standin
from ddperm.transports.clixml import decode_stderr, host_error, unescape
from tests.fixtures import REAL_WINDOWS

FIXTURES = REAL_WINDOWS / "clixml"
NS = 'xmlns="http://schemas.microsoft.com/powershell/2004/04"'


def fixture(name: str) -> str:
    return (FIXTURES / name).read_bytes().decode("utf-8")


def test_progress_only_stderr_is_not_an_error() -> None:
    stderr = decode_stderr(fixture("stderr-progress-only-pywinrm.clixml"))
    assert stderr.progress == ("Preparing modules for first use.",) * 2
    assert stderr.errors == ()
    assert stderr.text == ""
    assert host_error(stderr) is None


def test_error_record_lines_become_a_host_error() -> None:
    stderr = decode_stderr(fixture("stderr-progress-and-commandnotfound-error-pywinrm.clixml"))
    assert len(stderr.progress) == 2
    assert len(stderr.errors) == 8
    assert all(line.endswith("\r\n") for line in stderr.errors)
    error = host_error(stderr, "version")
    assert error is not None
    assert error.fully_qualified_error_id == "CommandNotFoundException"
    assert error.category == "ObjectNotFound"
    assert error.target == "fake"
    assert error.exception_type == "CommandNotFoundException"
    assert error.script == "version"
    # the two wrapped lines of the message are one sentence again
    assert error.message.startswith("fake : The term 'fake' is not recognized")
    assert "Check the spelling of the name" in error.message
    assert "At line" not in error.message


def test_packer_run_on_chunks_parse() -> None:
    stderr = decode_stderr(fixture("packer-log-clixml-progress-chunks-packer-templates-75.txt"))
    assert stderr.progress == ("Preparing modules for first use.",) * 3
    assert stderr.errors == ()
    assert "#< CLIXML" not in stderr.text
    assert "<Objs" not in stderr.text


def test_other_streams_are_kept_apart_from_errors() -> None:
    data = f'#< CLIXML\r\n<Objs Version="1.1.0.1" {NS}><S S="warning">careful_x000A_</S></Objs>'
    stderr = decode_stderr(data)
    assert stderr.other == (("warning", "careful\n"),)
    assert host_error(stderr) is None


def test_a_truncated_document_is_kept_as_plain_text() -> None:
    data = fixture("stderr-progress-only-pywinrm.clixml").replace("</Obj></Objs>", "</Objs>")
    stderr = decode_stderr(data)
    assert stderr.progress == ()
    assert "Preparing modules" in stderr.text


def test_surrogate_pairs_are_joined() -> None:
    assert unescape("a_xD83D__xDE00_b_x005F_x") == "a\U0001f600b_x"


@given(st.text())
def test_strings_round_trip(text: str) -> None:
    data = f'#< CLIXML\r\n<Objs {NS}><S S="Error">{standin.escape(text)}</S></Objs>'
    assert decode_stderr(data).errors == (text,)


@given(
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"),
        min_size=1,
    ).filter(str.strip)
)
def test_a_rendered_record_round_trips(message: str) -> None:
    lines = standin.render(
        message,
        invocation="Get-Thing",
        source="Get-Thing -Name x",
        snippet="Get-Thing",
        category="InvalidData",
        activity="Get-Thing",
        reason="ArgumentException",
        fqid="DdpermSomething,Get-Thing",
        target="C:\\a:b",
    )
    document = "".join(
        f'<S S="Error">{standin.escape(line + chr(13) + chr(10))}</S>' for line in lines
    )
    error = host_error(decode_stderr(f"#< CLIXML\r\n<Objs {NS}>{document}</Objs>"))
    assert error is not None
    assert error.message == f"Get-Thing : {message}".strip()
    assert error.fully_qualified_error_id == "DdpermSomething,Get-Thing"
    assert error.category == "InvalidData"
    assert error.target == "C:\\a:b"
    assert error.exception_type == "ArgumentException"
