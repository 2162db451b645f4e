"""examples/fleet_audit.ipynb runs top to bottom and shows what it promises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook extra (nbformat, nbclient)")
nbclient = pytest.importorskip("nbclient", reason="the notebook extra (nbformat, nbclient)")

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "fleet_audit.ipynb"


def _outputs(cell: Any, kind: str) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and kind == "text/plain":
            texts.append(output["text"])
        data = output.get("data", {})
        if kind in data:
            texts.append(data[kind])
    return texts


def test_fleet_audit_notebook_runs_and_shows_table_and_chart(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    code = [c for c in notebook.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    audit_cell = next(c for c in code if "audit(targets" in c.source)
    (html,) = _outputs(audit_cell, "text/html")
    assert 'class="ddperm-fleet"' in html
    for name in ("dev-00", "dev-01", "dev-04", "dev-off", "dev-wrong-password"):
        assert name in html
    summary = "".join(_outputs(audit_cell, "text/plain"))
    assert "7 hosts" in summary
    assert "1 healthy" in summary
    assert "4 unhealthy" in summary
    assert "1 unreachable" in summary
    assert "1 auth_failed" in summary
    chart_cell = next(c for c in code if "report.plot()" in c.source)
    assert _outputs(chart_cell, "image/png"), "the chart should render as an image"
    fixes = "".join(_outputs(code[-2], "text/plain"))
    for code_name in ("HYPERVISOR_LAUNCH_OFF", "ENGINE_DISABLED", "HOSTS_ENTRY_MISSING"):
        assert code_name in fixes
