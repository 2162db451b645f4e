"""FleetReport for people: summary ties, deduplicated fixes, the HTML table, the heat-map,
and one clear error when an optional dependency is missing."""

from __future__ import annotations

import re
import sys

import pytest

from ddperm.components.health import Problem
from ddperm.errors import DdpermError, MissingDependencyError
from ddperm.fleet.report import CHECKS, FleetReport, HostResult
from ddperm.testing import FakeHost, twin_host
from tests.test_fleet import _healthy, _hyperv_off, _launch_off


def _answered(name: str, fake: FakeHost) -> HostResult:
    report = twin_host(fake).health()
    outcome = "healthy" if report.healthy else "unhealthy"
    return HostResult(
        name=name, server=f"{name}.example", outcome=outcome, report=report, seconds=1
    )


GONE = HostResult(
    name="gone",
    server="gone.example",
    outcome="unreachable",
    error="HTTPConnectionPool(host='gone.example', port=5986): Max retries exceeded with url: "
    "/wsman (Caused by NewConnectionError('Failed to establish a new connection'))",
    seconds=2,
)


@pytest.fixture(scope="module")
def fleet() -> FleetReport:
    return FleetReport(
        results=(
            _answered("ok", _healthy()),
            _answered("hyperv-off", _hyperv_off()),
            _answered("launch-off", _launch_off()),
            _answered("no-entry", FakeHost()),
            GONE,
        ),
        seconds=3,
    )


def test_cells_read_the_checks(fleet: FleetReport) -> None:
    by_name = {r.name: r for r in fleet.results}
    assert [by_name["ok"].cell(c) for c in CHECKS] == ["ok"] * len(CHECKS)
    assert by_name["launch-off"].cell("bootloader") == "problem"
    assert by_name["hyperv-off"].cell("vm") == "error"  # Get-VM fails without Hyper-V
    assert [GONE.cell(c) for c in CHECKS] == ["not asked"] * len(CHECKS)
    engine_off = twin_host(_healthy(), windows_containers_enabled=False).health()
    result = HostResult(name="x", server="x", outcome="healthy", report=engine_off, seconds=0)
    assert result.cell("engine") == "not asked"


def test_a_tie_for_failing_most_names_every_tied_check(fleet: FleetReport) -> None:
    # hyperv-off fails hyperv, features and vm; launch-off bootloader; no-entry hosts_file
    checks, hosts = fleet.failing_most()
    assert (checks, hosts) == (["hyperv", "bootloader", "features", "vm", "hosts_file"], 1)
    assert fleet.summary().endswith(
        "failing most, tied at 1 host each: hyperv, bootloader, features, vm, hosts_file"
    )


def test_a_single_leader_is_named_alone(fleet: FleetReport) -> None:
    extra = _answered("launch-off-2", _launch_off())
    report = FleetReport(results=(*fleet.results, extra), seconds=1)
    assert report.failing_most() == (["bootloader"], 2)
    assert report.summary().endswith("; failing most: bootloader (2 hosts)")
    healthy = FleetReport(results=(fleet.results[0],), seconds=1)
    assert healthy.failing_most() == ([], 0)
    assert healthy.summary() == "1 host: 1 healthy"


def test_the_same_fix_is_listed_once_with_every_code_it_fixes() -> None:
    report = twin_host(_healthy()).health()  # healthy: the problems below are the only ones
    same, other = "Enable the feature, then restart.", "Start vmms."
    hyperv = report.hyperv.model_copy(
        update={"problems": (Problem(code="A", message="a", fix=same),)}
    )
    features = report.features.model_copy(
        update={
            "problems": (
                Problem(code="B", message="b", fix=same),
                Problem(code="B", message="b again", fix=same),
                Problem(code="C", message="c", fix=other),
            )
        }
    )
    changed = report.model_copy(update={"hyperv": hyperv, "features": features})
    result = HostResult(name="x", server="x", outcome="unhealthy", report=changed, seconds=0)
    assert result.fixes == {same: ["A", "B"], other: ["C"]}
    html = FleetReport(results=(result,), seconds=0)._repr_html_()
    assert html.count(same) == 1 and "<b>A, B</b>" in html


def test_html_fits_a_notebook_cell(fleet: FleetReport) -> None:
    html = fleet._repr_html_()
    assert 'class="ddperm-fleet"' in html
    assert "width:100%" in html and "max-width:100%" in html
    assert "failing most, tied at 1 host each" in html
    details = re.findall(r'<tr class="ddperm-detail"><td colspan="(\d+)" style="([^"]*)">', html)
    assert len(details) == 4  # every host but the healthy one
    assert {int(span) for span, _ in details} == {2 + len(CHECKS)}
    assert all("overflow-wrap:anywhere" in style for _, style in details)
    assert "Max retries exceeded" in html


def test_dataframe_has_every_check(fleet: FleetReport) -> None:
    frame = fleet.to_dataframe()
    assert [c for c in frame.columns if c in CHECKS] == list(CHECKS)
    assert frame.loc["hyperv-off", "vm"] == "error"
    assert frame.loc["gone", "outcome"] == "unreachable"


def test_plot_is_a_hosts_by_checks_heat_map(fleet: FleetReport) -> None:
    figure = fleet.plot()
    bars, heat = figure.axes
    cells = ["ok", "problem", "error", "not asked"]
    expected = [[cells.index(r.cell(c)) for c in CHECKS] for r in fleet.results]
    assert heat.images[0].get_array().tolist() == expected
    assert [t.get_text() for t in heat.get_xticklabels()] == list(CHECKS)
    labels = [t.get_text() for t in heat.get_yticklabels()]
    assert labels == ["ok", "hyperv-off", "launch-off", "no-entry", "gone (unreachable)"]
    legend = heat.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == cells
    counts = [t.get_text() for t in bars.texts]
    failing = fleet.failing_checks()
    assert counts == [str(failing[c]) if failing[c] else "" for c in CHECKS]
    assert all(float(tick).is_integer() for tick in bars.get_yticks())


def test_plot_marks_cells_for_readers_who_cannot_tell_the_colours(fleet: FleetReport) -> None:
    _, heat = fleet.plot().axes
    marks = {tuple(round(v) for v in t.get_position()): t.get_text() for t in heat.texts}
    assert marks[(CHECKS.index("bootloader"), 2)] == "!"
    assert marks[(CHECKS.index("vm"), 1)] == "×"
    assert marks[(0, 0)] == ""


def test_missing_pandas_names_the_extra(
    fleet: FleetReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'ddperm\[fleet\]'") as caught:
        fleet.to_dataframe()
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, DdpermError)
    assert caught.value.name == "pandas"


def test_missing_matplotlib_names_the_extra(
    fleet: FleetReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for name in [m for m in sys.modules if m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingDependencyError, match=r"matplotlib .*pip install 'ddperm\[fleet\]'"):
        fleet.plot()
