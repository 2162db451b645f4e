"""examples/fleet_audit.ipynb runs top to bottom and shows what it promises; the copy in the
repository carries its outputs (so it reads on a code host) without machine-specific paths."""

from __future__ import annotations

import base64
import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook extra (nbformat, nbclient)")
nbclient = pytest.importorskip("nbclient", reason="the notebook extra (nbformat, nbclient)")

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "fleet_audit.ipynb"
CHECKS = ("hyperv", "bootloader", "features", "vm", "engine", "hosts_file", "policy")
MACHINE_PATHS = re.compile(r"/home/|/root/|/work/|/tmp/|site-packages|[A-Z]:\\Users\\")


def _outputs(cell: Any, kind: str) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and kind == "text/plain":
            texts.append(output["text"])
        data = output.get("data", {})
        if kind in data:
            texts.append(data[kind])
    return texts


def _png_size(encoded: str) -> tuple[int, int]:
    width, height = struct.unpack(">II", base64.b64decode(encoded)[16:24])
    return width, height


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:  # run it fresh: nothing kept from the saved outputs
        if cell.cell_type == "code":
            cell.outputs = []
    nbclient.NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": tmp_path_factory.mktemp("notebook")}},
    ).execute()
    return [c for c in notebook.cells if c.cell_type == "code"]


def test_runs_without_errors(executed: list[Any]) -> None:
    outputs = [o for c in executed for o in c.get("outputs", [])]
    assert [o for o in outputs if o.get("output_type") == "error"] == []
    assert [o for o in outputs if o.get("name") == "stderr"] == []


def test_audit_table_and_summary_state_the_tie(executed: list[Any]) -> None:
    audit_cell = next(c for c in executed if "audit(targets" in c.source)
    (html,) = _outputs(audit_cell, "text/html")
    assert 'class="ddperm-fleet"' in html and "width:100%" in html
    for name in ("dev-00", "dev-01", "dev-04", "dev-off", "dev-wrong-password"):
        assert name in html
    summary = "".join(_outputs(audit_cell, "text/plain"))
    for part in ("7 hosts", "1 healthy", "4 unhealthy", "1 unreachable", "1 auth_failed"):
        assert part in summary
    tie = "failing most, tied at 1 host each: hyperv, bootloader, features, vm, engine, hosts_file"
    assert tie in summary  # every tied check, none picked arbitrarily
    assert "<FleetReport: 7 hosts" in summary  # the plain-text form is the summary, not a dump


def test_dataframe_shows_every_check_including_the_failed_one(executed: list[Any]) -> None:
    frame_cell = next(c for c in executed if "to_dataframe()" in c.source)
    (html,) = _outputs(frame_cell, "text/html")
    headers = re.findall(r"<th>(\w+)</th>", html)
    assert [h for h in headers if h in CHECKS] == list(CHECKS)
    dev01 = html[html.index("<th>dev-01</th>") :].split("</tr>")[0]
    statuses = re.findall(r"<td>(\w+)</td>", dev01)[1:]
    assert statuses == ["problem", "ok", "problem", "error", "ok", "ok", "ok"]


def test_heat_map_is_a_small_image(executed: list[Any]) -> None:
    chart_cell = next(c for c in executed if "report.plot()" in c.source)
    (png,) = _outputs(chart_cell, "image/png")
    width, height = _png_size(png)
    assert 300 < width <= 900 and 200 < height <= 600  # about 8 x 4 inches at 80 dpi


def test_each_fix_is_listed_once_per_host(executed: list[Any]) -> None:
    fixes = "".join(_outputs(executed[-2], "text/plain")).splitlines()
    for code_name in ("HYPERVISOR_LAUNCH_OFF", "ENGINE_DISABLED", "HOSTS_ENTRY_MISSING"):
        assert any(code_name in line for line in fixes)
    per_host = [line.split("] ", 1) for line in fixes if "] " in line]
    keys = [(host.split(":")[0], fix) for host, fix in per_host]
    assert len(keys) == len(set(keys))


def test_saved_copy_has_current_outputs_and_no_machine_paths(executed: list[Any]) -> None:
    saved = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in saved["cells"] if c["cell_type"] == "code"]
    kinds = [[(o["output_type"], sorted(o.get("data", {}))) for o in c["outputs"]] for c in code]
    fresh = [[(o["output_type"], sorted(o.get("data", {}))) for o in c.outputs] for c in executed]
    assert kinds == fresh, "execute the notebook and save it with its outputs"
    assert not MACHINE_PATHS.search(json.dumps(saved["cells"]))
