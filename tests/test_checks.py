"""Contract tests of host.hyperv, host.bootloader and host.features, failure modes included."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddperm.components.checks import (
    DEFAULT_REQUIRED_FEATURES,
    FEATURE_NAME,
    MAX_FEATURES,
    BootloaderStatus,
    CheckError,
    FeaturesReport,
    FeatureState,
    HyperVStatus,
    LaunchType,
)
from ddperm.errors import HostError, PolicyError
from ddperm.model import HostModel
from ddperm.scripts import script_root
from ddperm.testing import FakeHost
from ddperm.testing.errors import ErrorRecord
from tests.backends import Backend

DISM_GET = "Microsoft.Dism.Commands.GetWindowsOptionalFeatureCommand"
CULTURES = ("en-US", "de-DE", "ja-JP", "zh-CN")


def seeded(backend: Backend) -> FakeHost:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    return backend.fake


# -- hyperv.status() -------------------------------------------------------------------


def test_hyperv_status_reports_feature_hypervisor_and_vmms(backend: Backend) -> None:
    fake = seeded(backend)
    fake.features["Microsoft-Hyper-V"] = "EnablePending"
    fake.hypervisor_present = False
    fake.services["vmms"].status = "Stopped"
    status = backend.host.hyperv.status()
    assert status.feature_state is FeatureState.ENABLE_PENDING
    assert status.feature_error is None
    assert status.hypervisor_present is False
    assert status.vmms_status == "Stopped"
    assert not status.enabled


def test_hyperv_enabled_on_a_healthy_host(backend: Backend) -> None:
    status = backend.host.hyperv.status()
    assert status.feature_state is FeatureState.ENABLED
    assert status.enabled


def test_hyperv_on_an_edition_without_hyperv(backend: Backend) -> None:
    fake = seeded(backend)
    for name in [n for n in fake.features if n.startswith("Microsoft-Hyper-V")]:
        del fake.features[name]
    del fake.services["vmms"]
    fake.hypervisor_present = False
    status = backend.host.hyperv.status()
    assert status.feature_state is FeatureState.ABSENT
    assert status.vmms_status is None


def test_hyperv_without_elevation_still_reports_hypervisor_and_vmms(backend: Backend) -> None:
    """HypervisorPresent and Get-Service need no admin (minikube #7789); DISM does."""
    fake = seeded(backend)
    fake.caller.elevated = False
    fake.hypervisor_present = False
    status = backend.host.hyperv.status()
    assert status.feature_state is None
    assert status.feature_error is not None
    assert status.feature_error.error_id == DISM_GET
    assert status.feature_error.exception_type == "System.Runtime.InteropServices.COMException"
    assert status.feature_error.hresult == -2147024156  # ERROR_ELEVATION_REQUIRED
    assert status.hypervisor_present is False
    assert status.vmms_status == "Running"


# -- bootloader.status() ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "launch_type", "raw"),
    [("Auto", LaunchType.AUTO, 1), ("Off", LaunchType.OFF, 0), (None, LaunchType.NOT_SET, None)],
)
def test_bootloader_reads_the_bcd_element(
    backend: Backend, seed: str | None, launch_type: LaunchType, raw: int | None
) -> None:
    seeded(backend).hypervisorlaunchtype = seed
    status = backend.host.bootloader.status()
    assert status.launch_type is launch_type
    assert status.raw_value == raw


def test_bootloader_without_elevation_asks_for_elevation(backend: Backend) -> None:
    # The BCD WMI provider answers a caller that is not elevated with OpenStore's
    # ReturnValue False, not an access-denied error: the script checks elevation first.
    seeded(backend).caller.elevated = False
    with pytest.raises(HostError, match="elevated") as caught:
        backend.host.bootloader.status()
    assert caught.value.fully_qualified_error_id == "DdpermElevationRequired"
    assert caught.value.category == "PermissionDenied"


# -- features.check() ------------------------------------------------------------------


def test_features_default_set_is_docker_desktops_hyperv_backend(backend: Backend) -> None:
    report = backend.host.features.check()
    assert [f.name for f in report.features] == list(DEFAULT_REQUIRED_FEATURES)
    assert report.all_enabled
    assert report.restart_pending is False


@pytest.mark.parametrize(
    "state",
    ["Enabled", "Disabled", "DisabledWithPayloadRemoved", "PartiallyInstalled", "Superseded"],
)
def test_features_report_each_dism_state(backend: Backend, state: str) -> None:
    fake = seeded(backend)
    fake.features["NetFx3"] = state
    report = backend.host.features.check(["NetFx3"])
    assert report.features[0].state is FeatureState(state)
    assert report.restart_pending is False


@pytest.mark.parametrize("state", ["EnablePending", "DisablePending"])
def test_a_pending_feature_means_a_restart_is_pending(backend: Backend, state: str) -> None:
    seeded(backend).features["Containers"] = state
    report = backend.host.features.check()
    assert report.features[2].state is FeatureState(state)
    assert report.restart_pending is True
    assert not report.all_enabled


def test_restart_pending_from_servicing_alone(backend: Backend) -> None:
    seeded(backend).restart_pending = True
    assert backend.host.features.check().restart_pending is True


def test_unknown_feature_is_absent_and_names_match_case_insensitively(backend: Backend) -> None:
    report = backend.host.features.check(["containers", "Microsoft-Windows-Subsystem-Linux"])
    assert [(f.name, f.state) for f in report.features] == [
        ("containers", FeatureState.ENABLED),
        ("Microsoft-Windows-Subsystem-Linux", FeatureState.ABSENT),
    ]


def test_duplicate_names_are_asked_once(backend: Backend) -> None:
    fake = seeded(backend)
    report = backend.host.features.check(["Containers", "CONTAINERS", "Containers"])
    assert [f.name for f in report.features] == ["Containers"]
    assert fake.calls == [("features_check", {"FeatureName": ["Containers"]})]


def test_features_without_elevation_is_dism_requires_elevation(backend: Backend) -> None:
    fake = seeded(backend)
    fake.caller.elevated = False
    before = dict(fake.features)
    with pytest.raises(HostError) as caught:
        backend.host.features.check()
    assert caught.value.fully_qualified_error_id == DISM_GET
    assert caught.value.exception_type == "System.Runtime.InteropServices.COMException"
    assert fake.features == before


def test_dism_class_not_registered_under_pwsh7(backend: Backend) -> None:
    seeded(backend).dism_com_registered = False
    with pytest.raises(HostError) as caught:
        backend.host.features.check()
    assert caught.value.fully_qualified_error_id == DISM_GET
    assert caught.value.category == "NotSpecified"


BAD_NAMES = [
    "Microsoft-Hyper-V*",
    "*",
    "Hyper?V",
    "Containers[1]",
    "",
    " Containers",
    "Containers ",
    "Containers\n",
    "Microsoft Hyper-V",
    "x'; Remove-Item C:\\ -Recurse; '",
    '"$(Stop-Computer)"',
    "-Online",
    "1Containers",
    "Contäiners",
    "a" * 101,
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_feature_names_are_refused_before_anything_runs(backend: Backend, name: str) -> None:
    fake = seeded(backend)
    with pytest.raises(PolicyError, match="feature name"):
        backend.host.features.check(["Containers", name])
    assert fake.calls == []


@pytest.mark.parametrize(
    "required",
    [[], "Containers", ["Containers", 7], [f"Feature{i}" for i in range(33)]],
)
def test_bad_feature_lists_are_refused_before_anything_runs(
    backend: Backend, required: object
) -> None:
    fake = seeded(backend)
    with pytest.raises(PolicyError):
        backend.host.features.check(required)  # type: ignore[arg-type]
    assert fake.calls == []


@given(name=st.text(min_size=1, max_size=40))
def test_any_name_outside_the_allowlist_pattern_never_runs(name: str) -> None:
    from ddperm.testing import twin_host

    fake = FakeHost()
    host = twin_host(fake)
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    acceptable = name[0].isascii() and name[0].isalpha() and set(name) <= allowed
    if acceptable:
        assert [f.name for f in host.features.check([name]).features] == [name]
        assert len(fake.calls) == 1
    else:
        with pytest.raises(PolicyError):
            host.features.check([name])
        assert fake.calls == []


@pytest.mark.parametrize("name", ["Microsoft-Hyper-V*", "Containers\n", "a b"])
def test_the_script_refuses_a_wildcard_even_if_the_python_guard_were_bypassed(
    backend: Backend, name: str
) -> None:
    """features_check.ps1's own ValidatePattern (defence in depth), through the executor."""
    fake = seeded(backend)
    with pytest.raises(HostError) as caught:
        backend.host.executor.call("features_check", FeaturesReport, {"FeatureName": [name]})
    assert (
        caught.value.fully_qualified_error_id == "ParameterArgumentValidationError,features_check"
    )
    assert caught.value.exception_type.endswith("ParameterBindingValidationException")
    assert fake.features["Containers"] == "Enabled"


def test_twin_validate_count_mirrors_the_script() -> None:
    with pytest.raises(ErrorRecord) as caught:
        FakeHost().execute("features_check", {"FeatureName": [f"F{i}" for i in range(33)]})
    assert caught.value.fqid == "ParameterArgumentValidationError,features_check"


# -- language independence -------------------------------------------------------------


def _seed_mixed(fake: FakeHost) -> None:
    fake.features["Containers"] = "DisablePending"
    fake.features["NetFx3"] = "DisabledWithPayloadRemoved"
    fake.hypervisorlaunchtype = "Off"
    fake.hypervisor_present = False


@pytest.mark.parametrize("culture", CULTURES)
def test_results_do_not_change_with_the_display_language(
    make_backend: Callable[..., Backend], culture: str
) -> None:
    def answers(ui_culture: str) -> tuple[object, ...]:
        fake = FakeHost()
        _seed_mixed(fake)
        fake.os.ui_culture = ui_culture
        host = make_backend(fake).host
        return (
            host.hyperv.status(),
            host.bootloader.status(),
            host.features.check([*DEFAULT_REQUIRED_FEATURES, "NetFx3"]),
        )

    assert answers(culture) == answers("en-US")


@pytest.mark.parametrize("culture", CULTURES)
def test_error_ids_do_not_change_with_the_display_language(
    make_backend: Callable[..., Backend], culture: str
) -> None:
    fake = FakeHost()
    fake.caller.elevated = False
    fake.os.ui_culture = culture
    host = make_backend(fake).host
    with pytest.raises(HostError) as dism:
        host.features.check()
    with pytest.raises(HostError) as bcd:
        host.bootloader.status()
    assert (dism.value.fully_qualified_error_id, bcd.value.fully_qualified_error_id) == (
        DISM_GET,
        "DdpermElevationRequired",
    )
    if culture != "en-US":  # the display text really is localised, and ignored
        assert dism.value.message != "The requested operation requires elevation."


def _output_keys(library: str, function: str) -> list[str]:
    """Keys of the last ``[ordered]@{...}`` a library function writes."""
    body = library.split(f"function {function} {{", 1)[1].split("\nfunction ", 1)[0]
    last = body.rsplit("[ordered]@{", 1)[1].split("}", 1)[0]
    return re.findall(r"(\w+)\s*=", last)


@pytest.mark.parametrize(
    ("function", "model"),
    [
        ("Get-DdpermHyperVStatus", HyperVStatus),
        ("Get-DdpermBootloaderStatus", BootloaderStatus),
        ("Get-DdpermFeaturesReport", FeaturesReport),
        ("ConvertTo-DdpermCheckError", CheckError),
    ],
)
def test_library_output_keys_are_the_model_fields(function: str, model: type[HostModel]) -> None:
    library = (script_root() / "lib" / "Checks.ps1").read_text()
    assert _output_keys(library, function) == list(model.model_fields)


@pytest.mark.parametrize("script", ["features_check.ps1", "health.ps1"])
def test_scripts_validate_feature_names_like_the_python_guard(script: str) -> None:
    text = (script_root() / script).read_text()
    assert re.findall(r"\[ValidatePattern\('([^']*)'\)\]", text) == [f"^{FEATURE_NAME.pattern}\\z"]
    assert re.findall(r"\[ValidateCount\((\d+), (\d+)\)\]", text) == [("1", str(MAX_FEATURES))]
