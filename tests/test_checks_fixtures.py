"""The checks against real Windows output (tests/fixtures/real-windows, see SOURCES.md).

The fixtures are stored with LF; real Windows writes CRLF, so every file is read back with
CRLF line ends first. Small line-token parsers here turn each capture into twin state;
the twin must then answer what that Windows machine would have answered, in its language.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from ddperm.components.checks import (
    HRESULT_CLASS_NOT_REGISTERED,
    MAX_FEATURES,
    FeatureState,
    LaunchType,
)
from ddperm.errors import HostError
from ddperm.testing import FakeHost
from tests.backends import Backend
from tests.fixtures import REAL_WINDOWS

FIXTURES = REAL_WINDOWS


def windows_text(relative: str) -> str:
    """A fixture as Windows wrote it: CRLF line ends."""
    text = (FIXTURES / relative).read_text(encoding="utf-8")
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


# -- parsers (test helpers) -------------------------------------------------------------

_LIST_LINE = re.compile(r"^(?P<key>[A-Za-z]+)\s+: ?(?P<value>.*?)\s*$")


def parse_feature_list(text: str) -> dict[str, str]:
    """FeatureName/State pairs of Format-List output (the default view of -Online)."""
    states: dict[str, str] = {}
    name = None
    for line in text.splitlines():
        match = _LIST_LINE.match(line)
        if match and match["key"] == "FeatureName":
            name = match["value"]
        elif match and match["key"] == "State" and name is not None:
            states[name] = match["value"]
            name = None
    return states


def parse_feature_table(text: str) -> dict[str, str]:
    """Rows of a 'FeatureName State' table (after its dashed underline)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"-+\s+-+", line)) + 1
    rows = (line.split() for line in lines[start:] if line.strip())
    return {name: state for name, state in rows}


def parse_error_record(text: str) -> dict[str, str]:
    """FullyQualifiedErrorId, category, command and exception short name of one error."""
    fqid = re.search(r"FullyQualifiedErrorId\s*: (\S+)", text)
    info = re.search(r"CategoryInfo\s*: (\w+): \(.*?\) \[(.+?)\], (\w+)", text)
    assert fqid is not None
    assert info is not None
    return {
        "fqid": fqid[1],
        "category": info[1],
        "command": info[2],
        "exception": info[3],
    }


_UNDERLINE = re.compile(r"^-{3,}\s*$")


def bcdedit_current_launch_type(text: str) -> str | None:
    """hypervisorlaunchtype of the {current} object ('NotSet' if it has none), or None
    when the output has no {current} object. Only untranslated tokens are read: an object
    starts at a heading underlined with dashes, its first element line is the (possibly
    translated) identifier label followed by the id, and element names are never
    translated."""
    lines = text.splitlines()
    objects: list[list[list[str]]] = []
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]):
            objects.append([])
        elif objects and not _UNDERLINE.match(line) and line.strip():
            objects[-1].append(line.split())
    for elements in objects:
        if elements and elements[0][-1] == "{current}":
            for tokens in elements:
                if tokens[0] == "hypervisorlaunchtype":
                    return tokens[1]
            return "NotSet"
    return None


# -- bcdedit ----------------------------------------------------------------------------

BCDEDIT = {
    "bcdedit-de-DE-win10-win7-dualboot-hypervisorlaunchtype-auto.txt": ("de-DE", "Auto"),
    "bcdedit-enum-all-fr-FR-ui-no-hypervisorlaunchtype.txt": ("fr-FR", "NotSet"),
    "bcdedit-enum-current-ja-JP-hypervisorlaunchtype-auto-annotated.txt": ("ja-JP", "Auto"),
    "bcdedit-fr-FR-bios-no-hypervisorlaunchtype.txt": ("fr-FR", "NotSet"),
    "bcdedit-ja-JP-masked-guids-hypervisorlaunchtype-auto.txt": ("ja-JP", "Auto"),
    "bcdedit-ko-KR-hypervisorlaunchtype-off.txt": ("ko-KR", "Off"),
    "bcdedit-zh-CN-hypervisorlaunchtype-off-docker-blog.txt": ("zh-CN", "Off"),
    # {current} is the second loader (Off); the first loader of the same OS says Auto.
    "bcdedit-zh-CN-two-loaders-auto-and-off.txt": ("zh-CN", "Off"),
    "docker-desktop-diagnose-no-hypervisorlaunchtype-en-for-win-13082.txt": ("en-US", "NotSet"),
}
BCDEDIT_WITHOUT_CURRENT = [
    "bcdedit-enum-v-en-US-win8-vhd-boot-hypervisorlaunchtype-auto.txt",  # /v: GUIDs only
    "bcdedit-store-zh-CN-install-media-partial-edk2-rk3588-262.txt",  # an offline store
]


def test_every_bcdedit_capture_is_accounted_for() -> None:
    listed = set(BCDEDIT) | set(BCDEDIT_WITHOUT_CURRENT)
    enumerations = {
        p.name for p in (FIXTURES / "bcdedit").iterdir() if "set-success" not in p.name
    } - {"error-not-elevated-zh-CN-wubiuefi-261.txt"}
    assert enumerations == listed
    assert len({culture for culture, _ in BCDEDIT.values()}) >= 6


@pytest.mark.parametrize("name", sorted(BCDEDIT))
def test_bcdedit_token_parser_in_every_language(name: str) -> None:
    assert bcdedit_current_launch_type(windows_text(f"bcdedit/{name}")) == BCDEDIT[name][1]


@pytest.mark.parametrize("name", BCDEDIT_WITHOUT_CURRENT)
def test_bcdedit_without_a_current_alias_is_not_guessed(name: str) -> None:
    assert bcdedit_current_launch_type(windows_text(f"bcdedit/{name}")) is None


@pytest.mark.parametrize("name", sorted(BCDEDIT))
def test_twin_seeded_from_bcdedit_answers_in_that_language(
    make_backend: Callable[..., Backend], name: str
) -> None:
    culture, expected = BCDEDIT[name]
    seen = bcdedit_current_launch_type(windows_text(f"bcdedit/{name}"))
    fake = FakeHost()
    fake.os.ui_culture = culture
    fake.hypervisorlaunchtype = None if seen == "NotSet" else seen
    host = make_backend(fake).host
    status = host.bootloader.status()
    assert status.launch_type is LaunchType(expected)
    assert status.raw_value == {"Auto": 1, "Off": 0, "NotSet": None}[expected]
    codes = [p.code for p in host.health().bootloader.problems]
    problem = {
        "Auto": [],
        "Off": ["HYPERVISOR_LAUNCH_OFF"],
        "NotSet": ["HYPERVISOR_LAUNCH_NOT_SET"],
    }
    assert codes == problem[expected]


# -- optional features ------------------------------------------------------------------

WIN11 = "optional-features/list-online-all-win11-disabledwithpayloadremoved.txt"


def test_win11_list_parses_into_known_states() -> None:
    states = parse_feature_list(windows_text(WIN11))
    assert len(states) == 98
    assert {FeatureState(s) for s in states.values()} == {
        FeatureState.ENABLED,
        FeatureState.DISABLED,
        FeatureState.DISABLED_WITH_PAYLOAD_REMOVED,
    }
    assert states["NetFx3"] == states["Recall"] == "DisabledWithPayloadRemoved"


def test_twin_seeded_from_the_win11_list_reports_every_state(backend: Backend) -> None:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    states = parse_feature_list(windows_text(WIN11))
    backend.fake.features = dict(states)
    names = sorted(states)
    seen: dict[str, str] = {}
    for start in range(0, len(names), MAX_FEATURES):
        report = backend.host.features.check(names[start : start + MAX_FEATURES])
        seen.update({f.name: f.state.value for f in report.features})
    assert seen == states


def test_win11_without_hyperv_is_unhealthy_with_edition_fixes(backend: Backend) -> None:
    """That machine lists no Hyper-V or Containers feature at all (a Home edition)."""
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    backend.fake.features = parse_feature_list(windows_text(WIN11))
    del backend.fake.services["vmms"]
    backend.fake.hypervisor_present = False
    report = backend.host.health()
    assert not report.healthy
    assert [p.code for p in report.hyperv.problems] == ["HYPERV_UNAVAILABLE"]
    assert [p.code for p in report.features.problems] == ["FEATURE_UNAVAILABLE"] * 3


@pytest.mark.parametrize(
    ("relative", "parse"),
    [
        (
            "optional-features/table-vmp-hyperv-containers-states-appsandbox-99.txt",
            parse_feature_table,
        ),
        (
            "optional-features/fl-hyperv-all-disabled-and-hypervisorplatform-disabled-xamarin-docs.txt",
            parse_feature_list,
        ),
        (
            "optional-features/enable-output-dism-and-get-hyperv-star-enabled-virtdocs-924.partial.txt",
            parse_feature_list,
        ),
        ("optional-features/fl-hyperv-enabled-server-customproperties.txt", parse_feature_list),
    ],
)
def test_twin_seeded_from_captures_reports_them(
    backend: Backend, relative: str, parse: Callable[[str], dict[str, str]]
) -> None:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    states = parse(windows_text(relative))
    assert states
    backend.fake.features = dict(states)
    report = backend.host.features.check(list(states))
    assert {f.name: f.state.value for f in report.features} == states
    hyperv = states.get("Microsoft-Hyper-V", "Absent")
    assert backend.host.hyperv.status().feature_state is FeatureState(hyperv)


def test_containers_disabled_capture_is_a_feature_problem(backend: Backend) -> None:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    relative = "optional-features/table-vmp-hyperv-containers-states-appsandbox-99.txt"
    backend.fake.features = parse_feature_table(windows_text(relative))
    report = backend.host.health()
    assert [(p.code, p.message) for p in report.features.problems] == [
        ("FEATURE_DISABLED", "The Windows feature Containers is disabled.")
    ]


# -- error records ----------------------------------------------------------------------

ELEVATION = "optional-features/error-requires-elevation-enable-vmp-wsl-403.txt"
CLASS_NOT_REGISTERED = (
    "optional-features/error-class-not-registered-pwsh7-get-error-13866.partial.txt"
)


def test_twin_not_elevated_matches_the_real_dism_error(backend: Backend) -> None:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    backend.fake.caller.elevated = False
    with pytest.raises(HostError) as caught:
        backend.host.features.check()
    real = parse_error_record(windows_text(ELEVATION))  # the Enable- twin of the same error
    get_fqid = parse_error_record(windows_text(CLASS_NOT_REGISTERED))["fqid"]
    assert caught.value.fully_qualified_error_id == get_fqid
    assert caught.value.category == real["category"]
    assert caught.value.exception_type.rsplit(".", 1)[-1] == real["exception"]
    detection_lab = windows_text(
        "optional-features/error-requires-elevation-get-detectionlab-637.partial.txt"
    )
    assert f"Get-WindowsOptionalFeature : {caught.value.message}" in detection_lab.splitlines()


def test_twin_pwsh7_dism_matches_the_real_class_not_registered(backend: Backend) -> None:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    backend.fake.dism_com_registered = False
    text = windows_text(CLASS_NOT_REGISTERED)
    real = parse_error_record(text)
    hresult = re.search(r"HResult\s*: (-?\d+)", text)
    assert hresult is not None
    with pytest.raises(HostError) as caught:
        backend.host.features.check()
    assert caught.value.fully_qualified_error_id == real["fqid"]
    assert caught.value.exception_type.rsplit(".", 1)[-1] == real["exception"]
    assert f"Get-WindowsOptionalFeature: {caught.value.message}" in text
    health = backend.host.health().features
    assert health.error is not None
    assert health.error.hresult == int(hresult[1]) == HRESULT_CLASS_NOT_REGISTERED


def test_localised_dism_error_keeps_the_english_error_id() -> None:
    """zh-CN Windows: the message is Chinese, the FullyQualifiedErrorId is not."""
    text = windows_text("optional-features/error-interface-not-supported-zh-cn-docs-3033.txt")
    real = parse_error_record(text)
    assert real["fqid"] == parse_error_record(windows_text(CLASS_NOT_REGISTERED))["fqid"]
    assert real["command"] == "Get-WindowsOptionalFeature"


# -- HypervisorPresent and vmms ----------------------------------------------------------


def hypervisor_present(text: str) -> bool:
    """Format-List ('HypervisorPresent : True') or a table column under its dashes."""
    listed = re.search(r"^HypervisorPresent\s+: (True|False)\s*$", text, re.MULTILINE)
    table = re.search(r"^HypervisorPresent\s*\r?\n-+\s*\r?\n\s*(True|False)\s*$", text, re.M)
    found = listed or table
    assert found is not None
    return found[1] == "True"


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("services/wmi-win32-computersystem-fl-hypervisorpresent-true.txt", True),
        ("services/wmi-select-hypervisorpresent-false-table-win10-pro-workstations.txt", False),
        ("services/wmi-select-hypervisorpresent-false-plus-deviceguard-win11-home.txt", False),
    ],
)
def test_twin_seeded_from_hypervisorpresent_captures(
    backend: Backend, relative: str, expected: bool
) -> None:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    present = hypervisor_present(windows_text(relative))
    assert present is expected
    backend.fake.hypervisor_present = present
    assert backend.host.hyperv.status().hypervisor_present is expected
    codes = [p.code for p in backend.host.health().hyperv.problems]
    assert codes == ([] if expected else ["HYPERVISOR_NOT_RUNNING"])


def test_twin_seeded_from_the_vmms_capture(backend: Backend) -> None:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    text = windows_text("services/get-service-vmcompute-hns-vmms-table-appsandbox-99.txt")
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line[:4] == "vmms"}
    status, start_type = rows["vmms"]
    backend.fake.services["vmms"].status = status
    backend.fake.services["vmms"].start_type = start_type
    assert backend.host.hyperv.status().vmms_status == "Running"
