"""WS-Man behaviour of the twin endpoint that pypsrp relies on, seen through pypsrp."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import psrpcore
import pytest
import requests
from pypsrp.complex_objects import PSInvocationState, RunspacePoolState
from pypsrp.exceptions import InvalidPSRPOperation, WSManFaultError
from pypsrp.messages import MessageType
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.shell import SignalCode
from pypsrp.wsman import WSMan

from ddperm.scripts import default_registry
from ddperm.testing import FakeHost
from ddperm.testing.winrm import Endpoint, Fault, serve, shell, soap
from ddperm.testing.winrm.bridge import FakeHostRunner
from ddperm.testing.winrm.shell import MIN_ENVELOPE, PowerShellShell, payload_budget
from tests import wsman_raw

POWERSHELL = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"

OPERATION_TIMED_OUT = 0x80338029
SHELL_NOT_FOUND = 0x8033805B


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    with serve(FakeHost()) as served:
        yield served


@pytest.fixture(autouse=True)
def _fresh(endpoint: Endpoint) -> None:
    endpoint.fake = FakeHost()
    endpoint.faults.clear()


@pytest.fixture
def pool(endpoint: Endpoint) -> Iterator[RunspacePool]:
    options = endpoint.connect_options()
    with RunspacePool(WSMan(options.pop("server"), **options)) as opened:
        yield opened


def test_pool_receive_with_nothing_to_say_waits_then_faults_as_timed_out(
    pool: RunspacePool,
) -> None:
    with pytest.raises(WSManFaultError) as fault:
        pool.shell.receive("stdout", timeout=1)
    assert fault.value.code == OPERATION_TIMED_OUT


def test_receive_on_an_unknown_command_faults_as_invalid_selectors(pool: RunspacePool) -> None:
    with pytest.raises(WSManFaultError) as fault:
        pool.shell.receive("stdout", command_id=str(uuid.uuid4()).upper(), timeout=30)
    assert fault.value.code == SHELL_NOT_FOUND  # same code: 0x8033805B, UnexpectedSelectors


def test_requests_to_a_deleted_shell_fault_as_shell_not_found(
    pool: RunspacePool, endpoint: Endpoint
) -> None:
    endpoint.kill_shells()
    with pytest.raises(WSManFaultError) as fault:
        pool.shell.receive("stdout")
    assert fault.value.code == SHELL_NOT_FOUND
    pool.state = RunspacePoolState.CLOSED  # nothing left to delete on exit


def test_get_reports_a_live_shell(pool: RunspacePool) -> None:
    assert pool.is_alive()


def test_unauthenticated_request_is_challenged_with_both_schemes(endpoint: Endpoint) -> None:
    answer = requests.post(endpoint.url, data=b"<x/>", timeout=10)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="WSMAN", Negotiate'
    assert answer.headers.get("Connection") != "close"


def test_only_the_wsman_path_is_served(endpoint: Endpoint) -> None:
    auth = (endpoint.username, endpoint.password)
    assert requests.post(endpoint.url + "x", data=b"", auth=auth, timeout=10).status_code == 404


def _script(name: str) -> str:
    return default_registry().get(name).text


def test_finished_command_is_forgotten_after_its_done_answer(pool: RunspacePool) -> None:
    ps = PowerShell(pool)
    ps.add_script(_script("version"))
    ps.invoke()
    with pytest.raises(WSManFaultError) as fault:
        pool.shell.receive("stdout", command_id=ps._command_id, timeout=30)
    assert fault.value.code == SHELL_NOT_FOUND


def test_pool_calls_are_answered_as_windows_does(pool: RunspacePool) -> None:
    assert pool.get_available_runspaces() == 1
    pool.max_runspaces = 3  # pypsrp 0.9 names the call id "CI"
    pool.min_runspaces = 2
    assert pool.get_available_runspaces() == 3
    with pytest.raises(InvalidPSRPOperation):
        pool.min_runspaces = 5  # more than the maximum: refused
    pool.reset_runspace_state()
    assert pool.get_command_metadata("Get-*") == []


def test_only_the_final_pipeline_state_is_sent_after_the_output(pool: RunspacePool) -> None:
    ps = PowerShell(pool)
    ps.add_script(_script("version"))
    ps.begin_invoke()
    messages = [kind for kind, _ in pool._receive(ps.id)]
    assert messages == [MessageType.PIPELINE_OUTPUT, MessageType.PIPELINE_STATE]
    assert ps.state == PSInvocationState.COMPLETED


def test_version_table_arrives_as_application_private_data(pool: RunspacePool) -> None:
    table = pool.application_private_data.data["PSVersionTable"]
    assert str(table["PSVersion"]) == FakeHost().os.powershell_version
    assert table["PSEdition"] == "Desktop"
    assert str(table["BuildVersion"]).startswith("10.0.22621.")


def test_a_slow_pipeline_is_long_polled_until_done(endpoint: Endpoint) -> None:
    endpoint.faults.inject(Fault.SLOW, on="Command", seconds=2.5)
    options = endpoint.connect_options()
    wsman = WSMan(options.pop("server"), operation_timeout=1, read_timeout=5, **options)
    with RunspacePool(wsman) as pool:
        receives = endpoint.service.requests["Receive"]
        ps = PowerShell(pool)
        ps.add_script(_script("version"))
        output = ps.invoke()
        assert json.loads(output[0])["os_build"] == FakeHost().os.build
        assert endpoint.service.requests["Receive"] - receives >= 3  # timed out twice, then data


def _slow_pipeline(endpoint: Endpoint, pool: RunspacePool) -> PowerShell:
    endpoint.faults.inject(Fault.SLOW, on="Command", seconds=30)
    ps = PowerShell(pool)
    ps.add_script(_script("version"))
    ps.begin_invoke()
    return ps


def test_stop_ends_a_running_pipeline_in_the_stopped_state(endpoint: Endpoint) -> None:
    options = endpoint.connect_options()
    with RunspacePool(WSMan(options.pop("server"), operation_timeout=5, **options)) as pool:
        ps = _slow_pipeline(endpoint, pool)
        pool.shell.signal(shell.STOP, str(ps.id).upper())  # MS-PSRP's "crtl_c"
        while ps.state == PSInvocationState.RUNNING:
            ps.poll_invoke()
        assert ps.state == PSInvocationState.STOPPED
        assert endpoint.fake.calls == []  # stopped before it ran


@pytest.mark.parametrize(
    "code",
    [
        SignalCode.PS_CTRL_C,  # pypsrp 0.9's spelling: not the stop code
        "http://schemas.microsoft.com/powershell/signal/crtl_c",
        SignalCode.TERMINATE,
        "urn:not-a-signal",
    ],
)
def test_any_other_signal_code_closes_the_command(endpoint: Endpoint, code: str) -> None:
    options = endpoint.connect_options()
    with RunspacePool(WSMan(options.pop("server"), operation_timeout=5, **options)) as pool:
        ps = _slow_pipeline(endpoint, pool)
        pool.shell.signal(code, str(ps.id).upper())  # answered with success
        with pytest.raises(WSManFaultError) as fault:
            pool.shell.receive("stdout", command_id=str(ps.id).upper(), timeout=5)
        assert fault.value.code == SHELL_NOT_FOUND  # the command is gone, no Stopped state
        assert endpoint.fake.calls == []


def test_error_record_carries_type_chain_invocation_and_category_line(
    pool: RunspacePool,
) -> None:
    ps = PowerShell(pool)
    ps.add_script(_script("version")).add_parameter("Nope", 1)
    ps.invoke()
    record = ps.streams.error[0]
    assert record.exception.types == [
        "System.Management.Automation.ParameterBindingException",
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
        "System.Exception",
        "System.Object",
    ]
    assert record.message == "InvalidArgument: (Nope:String) [], ParameterBindingException"
    assert record.invocation_info is not None


def test_faults_blame_the_sender_for_bad_selectors(endpoint: Endpoint) -> None:
    body = "<rsp:Receive><rsp:DesiredStream>stdout</rsp:DesiredStream></rsp:Receive>"
    request = wsman_raw.envelope(soap.RECEIVE, POWERSHELL, body, shell_id=str(uuid.uuid4()))
    answer = wsman_raw.post(endpoint, request)
    assert answer.status_code == 500
    assert "<s:Value>s:Sender</s:Value>" in answer.text
    assert "faultDetail/UnexpectedSelectors" in answer.text


BAD_SELECTORS = (
    "The WS-Management service cannot process the request because the request contained "
    "invalid selectors for the resource. "
)


def _fault_texts(answer: requests.Response) -> tuple[str, str, str]:
    """The WSManFault code, s:Reason text and WSManFault message of a fault answer."""
    root = ET.fromstring(answer.content)
    fault = root.find(".//wsmanfault:WSManFault", soap.NS)
    assert fault is not None, answer.text
    reason = root.findtext(".//s:Reason/s:Text", "", soap.NS)
    return fault.get("Code", ""), reason, fault.findtext("wsmanfault:Message", "", soap.NS)


def test_invalid_selectors_reason_is_generic_and_message_specific(
    endpoint: Endpoint, pool: RunspacePool
) -> None:
    body = (
        f'<rsp:Receive><rsp:DesiredStream CommandId="{str(uuid.uuid4()).upper()}">stdout'
        "</rsp:DesiredStream></rsp:Receive>"
    )
    request = wsman_raw.envelope(soap.RECEIVE, POWERSHELL, body, shell_id=pool.shell.id)
    code, reason, message = _fault_texts(wsman_raw.post(endpoint, request))
    assert (code, reason) == (str(SHELL_NOT_FOUND), BAD_SELECTORS)
    assert message == soap.COMMAND_NOT_FOUND.message


def test_get_on_a_deleted_shell_is_invalid_selectors(endpoint: Endpoint) -> None:
    options = endpoint.connect_options()
    with RunspacePool(WSMan(options.pop("server"), **options)) as opened:
        shell_id = opened.shell.id
    request = wsman_raw.envelope(soap.GET, POWERSHELL, shell_id=shell_id)
    answer = wsman_raw.post(endpoint, request)
    assert answer.status_code == 500
    assert _fault_texts(answer) == (str(SHELL_NOT_FOUND), BAD_SELECTORS, BAD_SELECTORS)
    assert "<s:Value>w:InvalidSelectors</s:Value>" in answer.text


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("PT20S", 20.0), ("PT1.5S", 1.5), ("PT1M", 60.0), ("PT1H", 3600.0), ("P1DT1M", 86460.0)],
)
def test_operation_timeout_is_read_as_an_xs_duration(header: str, seconds: float) -> None:
    data = wsman_raw.envelope(soap.GET, POWERSHELL).replace(b"PT2S", header.encode())
    assert soap.parse_request(data).operation_timeout == seconds


@pytest.mark.parametrize("header", ["PT-1S", "20", "PT", "P", "PT1.S", "soon"])
def test_a_malformed_operation_timeout_is_an_invalid_header_fault(
    endpoint: Endpoint, pool: RunspacePool, header: str
) -> None:
    request = wsman_raw.envelope(soap.GET, POWERSHELL, shell_id=pool.shell.id)
    answer = wsman_raw.post(endpoint, request.replace(b"PT2S", header.encode()))
    assert answer.status_code == 500
    assert "<s:Value>s:Sender</s:Value>" in answer.text
    assert "<s:Value>a:InvalidMessageInformationHeader</s:Value>" in answer.text
    assert _fault_texts(answer) == (
        "2150858767",
        "The WS-Management service cannot process the request. The request contains one or "
        "more invalid SOAP headers. ",
        "The WS-Management service cannot process the request. The XML contains an invalid "
        f"timeout field in the SOAP header: {header}. ",
    )


def test_an_internal_failure_leaks_no_python_text(pool: RunspacePool) -> None:
    with pytest.raises(WSManFaultError) as fault:
        pool.shell.send("stdin", b"\x00not a fragment")
    assert fault.value.reason == soap.INTERNAL_ERROR.message.strip()


def _messages(client: psrpcore.ClientRunspacePool, chunks: list[tuple[str, bytes]]) -> list[str]:
    """The PSRP message types in each chunk (one rsp:Stream element), as the client reads them."""
    per_stream = []
    for _name, data in chunks:
        client.receive_data(psrpcore.PSRPPayload(data, psrpcore.StreamType.default, None))
        events = []
        while (event := client.next_event()) is not None:
            events.append(event.message_type.name)
        per_stream.append(events)
    return [" ".join(kinds) for kinds in per_stream]


def test_pool_opens_one_message_per_stream_and_the_opened_state_in_a_later_receive() -> None:
    client = psrpcore.ClientRunspacePool()
    client.open()
    opening = client.data_to_send()
    assert opening is not None
    pool_shell = PowerShellShell("S", FakeHostRunner(FakeHost()))
    pool_shell.feed(opening.data)
    first = pool_shell.receive("", payload_budget(MIN_ENVELOPE), 0)
    second = pool_shell.receive("", payload_budget(MIN_ENVELOPE), 0)
    assert first is not None and second is not None
    assert _messages(client, first.chunks) == ["SessionCapability", "ApplicationPrivateData"]
    assert _messages(client, second.chunks) == ["RunspacePoolState"]
    assert client.state == psrpcore.types.RunspacePoolState.Opened
