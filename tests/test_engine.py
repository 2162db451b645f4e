"""Contract tests of host.engine: the Windows Docker engine service ('docker')."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddperm.components.engine import EngineStatus, ServiceStartType, ServiceStatus
from ddperm.errors import HostError, PolicyError
from ddperm.testing import ErrorRecord, FakeHost, twin_host
from ddperm.testing.jobs.engine import engine_status
from tests.backends import Backend

MakeBackend = Callable[..., Backend]


def _fake(backend: Backend) -> FakeHost:
    if backend.fake is None:
        pytest.skip("needs a seedable twin")
    return backend.fake


def test_status_reports_the_docker_service(backend: Backend) -> None:
    status = backend.host.engine.status()
    assert status == EngineStatus(
        installed=True,
        name="docker",
        display_name="Docker Engine",
        status=ServiceStatus.STOPPED,
        start_type=ServiceStartType.MANUAL,
    )
    assert not status.running


def test_not_installed_is_a_status_not_an_error(backend: Backend) -> None:
    del _fake(backend).services["docker"]
    status = backend.host.engine.status()
    assert status.installed is False
    assert (status.display_name, status.status, status.start_type) == (None, None, None)


def test_start_a_stopped_engine_reports_a_change(backend: Backend) -> None:
    fake = _fake(backend)
    change = backend.host.engine.start()
    assert change.changed
    assert change.before.status is ServiceStatus.STOPPED
    assert change.after.status is ServiceStatus.RUNNING
    assert change.after.running
    assert fake.services["docker"].status == "Running"


def test_start_is_idempotent(backend: Backend) -> None:
    backend.host.engine.start()
    again = backend.host.engine.start()
    assert not again.changed
    assert again.before == again.after
    assert again.after.status is ServiceStatus.RUNNING


def test_stop_a_running_engine_then_again(backend: Backend) -> None:
    fake = _fake(backend)
    fake.services["docker"].status = "Running"
    first = backend.host.engine.stop()
    assert first.changed
    assert first.after.status is ServiceStatus.STOPPED
    second = backend.host.engine.stop()
    assert not second.changed
    assert fake.services["docker"].status == "Stopped"


def test_stop_when_not_installed_changes_nothing(backend: Backend) -> None:
    del _fake(backend).services["docker"]
    change = backend.host.engine.stop()
    assert not change.changed
    assert not change.after.installed


def test_start_when_not_installed_is_a_host_error(backend: Backend) -> None:
    fake = _fake(backend)
    del fake.services["docker"]
    with pytest.raises(HostError) as caught:
        backend.host.engine.start()
    assert caught.value.error_id == "DdpermEngineNotInstalled"
    assert caught.value.category == "ObjectNotFound"
    assert "docker" not in fake.services


def test_start_a_disabled_engine_fails_like_windows(backend: Backend) -> None:
    fake = _fake(backend)
    fake.services["docker"].start_type = "Disabled"
    with pytest.raises(HostError) as caught:
        backend.host.engine.start()
    err = caught.value
    assert err.error_id == "CouldNotStartService"
    assert err.category == "OpenError"
    assert err.exception_type == "Microsoft.PowerShell.Commands.ServiceCommandException"
    assert "because it is disabled" in err.message  # Win32 error 1058, see the fixture test
    assert fake.services["docker"].status == "Stopped"


def test_start_without_elevation_cannot_open_the_service(backend: Backend) -> None:
    fake = _fake(backend)
    fake.caller.elevated = False
    with pytest.raises(HostError) as caught:
        backend.host.engine.start()
    assert caught.value.error_id == "CouldNotStartService"
    assert "Cannot open docker service on computer '.'" in caught.value.message
    assert fake.services["docker"].status == "Stopped"


def test_stop_without_elevation_cannot_open_the_service(backend: Backend) -> None:
    fake = _fake(backend)
    fake.caller.elevated = False
    fake.services["docker"].status = "Running"
    with pytest.raises(HostError) as caught:
        backend.host.engine.stop()
    err = caught.value
    assert err.fully_qualified_error_id == (
        "CouldNotStopService,Microsoft.PowerShell.Commands.StopServiceCommand"
    )
    assert err.category == "CloseError"
    assert fake.services["docker"].status == "Running"


def test_start_waits_out_a_start_pending_engine(backend: Backend) -> None:
    fake = _fake(backend)
    fake.services["docker"].status = "StartPending"
    fake.services["docker"].start_seconds = 45
    change = backend.host.engine.start(timeout=60)
    assert change.before.status is ServiceStatus.START_PENDING
    assert change.after.status is ServiceStatus.RUNNING
    assert change.changed


def test_start_that_outlasts_the_deadline_times_out_and_stays_pending(backend: Backend) -> None:
    fake = _fake(backend)
    fake.services["docker"].start_seconds = 90
    with pytest.raises(HostError) as caught:
        backend.host.engine.start(timeout=60)
    assert caught.value.error_id == "DdpermServiceTimeout"
    assert caught.value.category == "OperationTimeout"
    assert "StartPending" in caught.value.message
    assert fake.services["docker"].status == "StartPending"


def test_one_deadline_covers_waiting_for_stop_and_then_start(backend: Backend) -> None:
    fake = _fake(backend)
    service = fake.services["docker"]
    service.status, service.stop_seconds, service.start_seconds = "StopPending", 20, 20
    with pytest.raises(HostError, match="did not reach Running"):
        backend.host.engine.start(timeout=30)
    assert service.status == "StartPending"
    service.status = "StopPending"
    assert backend.host.engine.start(timeout=40).after.running


def test_a_hanging_stop_times_out(backend: Backend) -> None:
    fake = _fake(backend)
    service = fake.services["docker"]
    service.status, service.stop_seconds = "Running", math.inf
    with pytest.raises(HostError) as caught:
        backend.host.engine.stop(timeout=5)
    assert caught.value.error_id == "DdpermServiceTimeout"
    assert service.status == "StopPending"


def test_stop_lets_a_starting_engine_finish_first(backend: Backend) -> None:
    fake = _fake(backend)
    fake.services["docker"].status = "StartPending"
    change = backend.host.engine.stop()
    assert change.before.status is ServiceStatus.START_PENDING
    assert change.after.status is ServiceStatus.STOPPED


def test_a_paused_engine_is_continued(backend: Backend) -> None:
    # StartService on a paused service fails (ERROR_SERVICE_ALREADY_RUNNING, 1056): it needs
    # the Continue control.
    fake = _fake(backend)
    fake.services["docker"].status = "Paused"
    change = backend.host.engine.start()
    assert change.changed
    assert change.before.status is ServiceStatus.PAUSED
    assert change.after.status is ServiceStatus.RUNNING
    assert fake.services["docker"].status == "Running"


def test_continuing_a_paused_engine_needs_elevation(backend: Backend) -> None:
    fake = _fake(backend)
    fake.services["docker"].status = "Paused"
    fake.caller.elevated = False
    with pytest.raises(HostError, match="Access is denied") as caught:
        backend.host.engine.start()
    assert caught.value.error_id == "CouldNotStartService"
    assert fake.services["docker"].status == "Paused"


def test_a_machine_before_docker_desktop_has_no_engine(make_backend: MakeBackend) -> None:
    fake = FakeHost.fresh()
    assert "docker" not in fake.services
    assert "com.docker.service" not in fake.services
    backend = make_backend(fake)
    assert not backend.host.engine.status().installed
    with pytest.raises(HostError, match="Docker Desktop") as caught:
        backend.host.engine.start()
    assert caught.value.error_id == "DdpermEngineNotInstalled"
    assert "docker" not in fake.services


@pytest.mark.parametrize("timeout", [0, -1, 601, 10**9, True, 1.5, "30", None])
@pytest.mark.parametrize("operation", ["start", "stop"])
def test_bad_timeouts_are_refused_before_anything_runs(
    backend: Backend, operation: str, timeout: object
) -> None:
    fake = _fake(backend)
    before = copy.deepcopy(fake.services)
    with pytest.raises(PolicyError, match="timeout"):
        getattr(backend.host.engine, operation)(timeout=timeout)
    assert fake.calls == []
    assert fake.services == before


@pytest.mark.parametrize("operation", ["status", "start", "stop"])
def test_disabled_windows_containers_refuse_every_engine_operation(
    make_backend: MakeBackend, operation: str
) -> None:
    fake = FakeHost()
    backend = make_backend(fake, windows_containers_enabled=False)
    with pytest.raises(PolicyError, match="no-windows-containers"):
        getattr(backend.host.engine, operation)()
    assert fake.calls == []
    assert fake.services["docker"].status == "Stopped"


# -- the twin itself (what the real script's param() block enforces) ----------------


@pytest.mark.parametrize(
    ("value", "fqid"),
    [
        (0, "ParameterArgumentValidationError"),
        ("601", "ParameterArgumentValidationError"),
        ("x", "ParameterArgumentTransformationError"),
        (2.5, "ParameterArgumentTransformationError"),
    ],
)
def test_twin_binds_timeout_like_powershell(value: object, fqid: str) -> None:
    fake = FakeHost()
    with pytest.raises(ErrorRecord) as caught:
        fake.execute("engine_start", {"TimeoutSeconds": value})
    assert caught.value.fqid == f"{fqid},engine_start"
    assert fake.services["docker"].status == "Stopped"


def test_twin_converts_a_numeric_string_timeout_like_powershell() -> None:
    fake = FakeHost()
    result = fake.execute("engine_start", {"TimeoutSeconds": "30"})
    assert isinstance(result, dict)
    assert result["changed"] is True
    assert fake.services["docker"].status == "Running"


def test_twin_engine_status_is_the_library_function_health_uses() -> None:
    fake = FakeHost()
    fake.services["docker"].status = "Running"
    doc = engine_status(fake)
    assert EngineStatus.model_validate(doc).running
    assert doc == fake.execute("engine_status", {})


@pytest.mark.parametrize("field", ["pidfile", "data_root", "exec_path", "hosts", "group", "config"])
@pytest.mark.parametrize("operation", ["start", "stop"])
def test_the_engine_takes_no_daemon_configuration(
    backend: Backend, operation: str, field: str
) -> None:
    """No daemon.json field can reach a privileged engine start (CVE-2022-37326, -38730,
    CVE-2024-5652): the API has no such parameter, and neither has the script."""
    fake = _fake(backend)
    with pytest.raises(TypeError):
        getattr(backend.host.engine, operation)(**{field: r"C:\Users\dev\evil"})
    assert fake.calls == []


@pytest.mark.parametrize("name", ["DaemonJSON", "DataRoot", "PidFile", "ServiceName"])
def test_the_engine_scripts_bind_no_other_parameter(name: str) -> None:
    fake = FakeHost()
    with pytest.raises(ErrorRecord) as caught:
        fake.execute("engine_start", {name: "x"})
    assert caught.value.fqid == "NamedParameterNotFound,engine_start"
    assert fake.services["docker"].status == "Stopped"


# -- property: ensure-style start and stop over every seeded state ------------------------

_STATUSES = [s.value for s in ServiceStatus]


@settings(max_examples=150)
@given(
    status=st.sampled_from(_STATUSES),
    start_type=st.sampled_from(["Automatic", "Manual", "Disabled"]),
    start_seconds=st.integers(0, 120),
    stop_seconds=st.integers(0, 120),
    timeout=st.integers(1, 600),
    elevated=st.booleans(),
    operation=st.sampled_from(["start", "stop"]),
)
def test_ensure_start_and_stop_reach_their_state_or_fail_cleanly(
    status: str,
    start_type: str,
    start_seconds: int,
    stop_seconds: int,
    timeout: int,
    elevated: bool,
    operation: str,
) -> None:
    fake = FakeHost()
    service = fake.services["docker"]
    service.status, service.start_type = status, start_type
    service.start_seconds, service.stop_seconds = start_seconds, stop_seconds
    fake.caller.elevated = elevated
    target = ServiceStatus.RUNNING if operation == "start" else ServiceStatus.STOPPED
    error: HostError | None = None
    try:
        change = getattr(twin_host(fake).engine, operation)(timeout=timeout)
    except HostError as caught:
        error = caught
    if error is not None:
        if error.error_id == "DdpermServiceTimeout":
            assert service.status.endswith("Pending")
        else:
            assert error.error_id in ("CouldNotStartService", "CouldNotStopService")
            assert service.status in (status, "Stopped", "Running")  # a settled state
            refusable = operation == "start" and start_type == "Disabled" and status != "Paused"
            assert not elevated or refusable
        return
    assert change.before.status == ServiceStatus(status)
    assert change.after.status is target
    assert service.status == target.value
    assert change.changed == (status != target.value)
    needs_start = operation == "start" and status in ("Stopped", "Paused", "StopPending")
    if needs_start:
        assert start_type != "Disabled" or status == "Paused"  # Continue ignores the start type
        assert elevated
