"""PSRPRunner and ddperm.connect against the twin served over WinRM (real pypsrp client)."""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypsrp.complex_objects import PSInvocationState
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

import ddperm
from ddperm.errors import AuthenticationError, HostError, TransportError
from ddperm.runner import ParamValue
from ddperm.scripts import (
    Script,
    ScriptKind,
    ScriptRegistry,
    build_manifest,
    default_registry,
    manifest_text,
    script_root,
)
from ddperm.testing import HOSTS_PATH, FakeHost, twin_host
from ddperm.testing.winrm import Endpoint, serve
from ddperm.transports.psrp import ERROR_CATEGORIES, PSRPRunner, single_output

VERSION = default_registry().get("version")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    with serve(FakeHost()) as served:
        yield served


@pytest.fixture
def fake(endpoint: Endpoint) -> FakeHost:
    endpoint.fake = FakeHost()
    return endpoint.fake


@pytest.fixture
def runner(endpoint: Endpoint, fake: FakeHost) -> Iterator[PSRPRunner]:
    options = endpoint.connect_options()
    server = options.pop("server")
    psrp = PSRPRunner(server, **options)
    yield psrp
    psrp.close()


# Values a caller may pass (ddperm.runner.ParamValue), including the awkward ones:
# text with control characters and non-ASCII, ints past 32 bits, empty lists, None. Not the
# noncharacters U+FFFE/U+FFFF: no XML document may hold them, so PSRP's CLIXML cannot carry
# them (the guard never lets them through: they are unassigned, category Cn).
XML_TEXT = st.characters(exclude_categories=("Cs",), exclude_characters="\ufffe\uffff")
scalars = st.one_of(
    st.text(XML_TEXT, max_size=40),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.none(),
)
values = st.one_of(
    scalars,
    st.lists(st.text(XML_TEXT, max_size=10), max_size=4),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=4),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # calls.clear() per input
@given(params=st.dictionaries(st.from_regex(r"[A-Z][A-Za-z]{0,8}", fullmatch=True), values))
def test_parameters_arrive_as_typed_data(
    runner: PSRPRunner, fake: FakeHost, params: dict[str, ParamValue]
) -> None:
    fake.calls.clear()
    if params:
        # `version` takes no parameters: the twin records what arrived, then refuses it.
        with pytest.raises(HostError) as refused:
            runner.run(VERSION, params)
        assert refused.value.error_id == "NamedParameterNotFound"
    else:
        json.loads(runner.run(VERSION, params))
    assert fake.calls == [("version", params)]
    for name, value in params.items():
        assert type(fake.calls[0][1][name]) is type(value)


def test_script_text_is_sent_unchanged_and_unknown_text_is_refused(
    runner: PSRPRunner, fake: FakeHost
) -> None:
    tampered = Script("version", ScriptKind.READ, VERSION.text + "\n# edited", VERSION.sources)
    with pytest.raises(HostError) as refused:
        runner.run(tampered, {})
    assert refused.value.fully_qualified_error_id == "ScriptsNotAllowed"
    assert refused.value.category == "ParserError"
    # the same record as a no-language runspace's (ddperm.testing.errors.scripts_not_allowed)
    assert refused.value.exception_type == "System.Management.Automation.ParseException"
    assert refused.value.target == tampered.text
    assert refused.value.message == (
        "The syntax is not supported by this runspace. This might be because it is in "
        "no-language mode."
    )
    assert fake.calls == []
    assert json.loads(runner.run(VERSION, {}))["os_build"] == fake.os.build


def test_error_record_becomes_host_error_with_its_fields(
    runner: PSRPRunner, fake: FakeHost
) -> None:
    with pytest.raises(HostError) as refused:
        runner.run(VERSION, {"Bogus": "x"})
    error = refused.value
    assert error.fully_qualified_error_id == "NamedParameterNotFound,version"
    assert error.category == "InvalidArgument"
    assert error.target == "Bogus"
    assert error.exception_type == "System.Management.Automation.ParameterBindingException"
    assert "Bogus" in error.message
    assert error.script == "version"


def test_error_category_names_match_powershell() -> None:
    from psrpcore.types import ErrorCategory

    assert tuple(c.name for c in sorted(ErrorCategory, key=lambda c: c.value)) == ERROR_CATEGORIES


def test_failed_pipeline_is_an_error_even_after_output(endpoint: Endpoint) -> None:
    options = endpoint.connect_options()
    with RunspacePool(WSMan(options.pop("server"), **options)) as pool:
        ps = PowerShell(pool)
        ps.output = ['{"partial": true}']
        ps.state = PSInvocationState.FAILED
        with pytest.raises(HostError):
            single_output("version", ps)


def test_one_pool_serves_every_call(runner: PSRPRunner, endpoint: Endpoint) -> None:
    creates = endpoint.service.requests["Create"]
    for _ in range(5):
        runner.run(VERSION, {})
    assert runner.pool_opens == 1
    assert endpoint.service.requests["Create"] == creates + 1


def test_concurrent_calls_share_the_pool(runner: PSRPRunner, fake: FakeHost) -> None:
    answers: list[str] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            for _ in range(3):
                answers.append(runner.run(VERSION, {}))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(answers) == 18
    assert {json.loads(a)["computer_name"] for a in answers} == {fake.os.computer_name}
    assert runner.pool_opens == 1


def test_close_deletes_the_pool_and_a_later_call_reopens(
    runner: PSRPRunner, endpoint: Endpoint
) -> None:
    runner.run(VERSION, {})
    shells = endpoint.service.shell_count()
    runner.close()
    assert endpoint.service.shell_count() == shells - 1
    runner.run(VERSION, {})
    assert runner.pool_opens == 2


def test_connect_is_a_context_manager_over_one_pool(endpoint: Endpoint, fake: FakeHost) -> None:
    fake.os.build = 19045
    shells = endpoint.service.shell_count()
    with ddperm.connect(**endpoint.connect_options()) as host:
        assert host.version().host.os_build == 19045
        assert host.version().host.os_build == 19045
        assert endpoint.service.shell_count() == shells + 1
    assert endpoint.service.shell_count() == shells


def test_two_megabytes_of_unicode_output(endpoint: Endpoint, fake: FakeHost) -> None:
    line = "127.0.0.1 sömé-hôst.example # ünïcode ✓ 日本\r\n"
    fake.fs.write_bytes(HOSTS_PATH, (line * (2_000_000 // len(line))).encode("utf-8"))
    with ddperm.connect(**endpoint.connect_options()) as host:
        remote = host.hosts_file.status()
    with twin_host(fake) as local:
        assert remote == local.hosts_file.status()


def test_large_script_spans_command_and_send_requests(tmp_path: Path) -> None:
    root = shutil.copytree(script_root(), tmp_path / "ps_scripts")
    padding = "".join(f"# padding line {i:06d} {'x' * 60}\n" for i in range(5500))  # ~400 KB
    with (root / "version.ps1").open("a", encoding="utf-8") as script:
        script.write(padding)
    (root / "manifest.json").write_text(manifest_text(build_manifest(root)))
    registry = ScriptRegistry(root)
    assert len(registry.get("version").text) > 400_000
    fake = FakeHost()
    fake.os.build = 26100
    with serve(fake, registry=registry) as endpoint:
        options = endpoint.connect_options()
        runner = PSRPRunner(options.pop("server"), **options)
        with ddperm.Host(runner, registry=registry) as host:
            assert host.version().host.os_build == 26100
        assert endpoint.service.requests["Send"] >= 1


def test_wrong_password_fails_fast_and_is_never_retried(endpoint: Endpoint, fake: FakeHost) -> None:
    options = endpoint.connect_options() | {"password": "wrong"}
    before = endpoint.http_requests
    with ddperm.connect(**options) as host, pytest.raises(AuthenticationError):
        host.version()
    assert endpoint.http_requests - before == 1
    assert fake.calls == []


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_ntlm_and_negotiate_encrypt_every_message(auth: str) -> None:
    fake = FakeHost()
    with serve(fake, auth=auth) as endpoint:
        with ddperm.connect(**endpoint.connect_options()) as host:
            assert host.version().host.os_build == fake.os.build
        assert endpoint.encrypted_requests == sum(endpoint.service.requests.values()) > 0


def test_https_validates_the_certificate_by_default() -> None:
    fake = FakeHost()
    with serve(fake, tls=True) as endpoint:
        trusted = endpoint.connect_options()
        assert isinstance(trusted["cert_validation"], str)
        with ddperm.connect(**trusted) as host:
            assert host.version().host.os_build == fake.os.build
        untrusted = {k: v for k, v in trusted.items() if k != "cert_validation"}
        no_retry = ddperm.RetryPolicy(attempts=1)
        with ddperm.connect(**untrusted, retry=no_retry) as host, pytest.raises(TransportError):
            host.version()


def test_connect_reads_server_and_credentials_from_the_environment(
    endpoint: Endpoint, fake: FakeHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = endpoint.connect_options()
    monkeypatch.setenv("DDPERM_HOST", options.pop("server"))
    monkeypatch.setenv("DDPERM_USERNAME", options.pop("username"))
    monkeypatch.setenv("DDPERM_PASSWORD", options.pop("password"))
    with ddperm.connect(**options) as host:
        assert host.version().host.computer_name == fake.os.computer_name


def test_connect_without_a_server_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DDPERM_HOST", raising=False)
    with pytest.raises(ValueError, match="DDPERM_HOST"):
        ddperm.connect()


def test_ntlm_endpoints_keep_their_own_passwords_for_the_same_user() -> None:
    with (
        serve(FakeHost(), auth="ntlm", password="first-pw") as first,
        serve(FakeHost(), auth="ntlm", password="second-pw") as second,
    ):
        for endpoint in (first, second, first):
            with ddperm.connect(**endpoint.connect_options()) as host:
                assert host.version().host.os_build == endpoint.fake.os.build


def test_every_script_runs_in_a_local_scope_of_the_pooled_runspace(
    endpoint: Endpoint, runner: PSRPRunner
) -> None:
    # Added without UseLocalScope, a script runs in the runspace's global scope (PowerShell
    # Command.CreateCommandProcessor: "_useLocalScope ?? false"), so its functions, variables
    # and preferences would stay in the pool for the next call. The twin reads the flag
    # from the CreatePipeline message pypsrp sends.
    before = endpoint.service.scopes.copy()
    runner.run(VERSION, {})
    runner.run(VERSION, {})
    assert endpoint.service.scopes - before == Counter(local=2)
