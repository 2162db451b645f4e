"""FleetReport: per host the HealthReport or the error, plus summaries for people.

``to_json()`` and ``to_dataframe()`` are for machines and notebooks, ``_repr_html_``
shows a table that fits a notebook cell, and ``plot()`` draws a hosts × checks heat-map.
pandas and matplotlib come with the extra ``ddperm[fleet]``; without them
``to_dataframe()`` and ``plot()`` raise ``MissingDependencyError``.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from ddperm.components.health import HealthReport
from ddperm.errors import MissingDependencyError

if TYPE_CHECKING:  # optional extras
    import pandas
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure
    from matplotlib.ticker import Locator

Outcome = Literal[
    "healthy",
    "unhealthy",
    "unreachable",
    "auth_failed",
    "timed_out",
    "host_error",
    "config_error",
    "error",
    "internal_error",
    "interrupted",
]
FAILED_TO_ASK: tuple[Outcome, ...] = get_args(Outcome)[2:]
CHECKS: tuple[str, ...] = tuple(name for name in HealthReport.model_fields if name != "healthy")
"""The health checks, in report order (the columns of rows(), the DataFrame and the plot)."""

Cell = Literal["ok", "problem", "error", "not asked"]
"""One host's result for one check; "not asked" when the host did not answer or the check is
disabled by policy."""

CELL_COLOURS: dict[Cell, str] = {
    "ok": "#2da44e",
    "problem": "#d4a72c",
    "error": "#cf222e",
    "not asked": "#d0d7de",
}
_CELL_MARKS: dict[Cell, str] = {"ok": "", "problem": "!", "error": "×", "not asked": ""}
_OUTCOME_COLOURS = {"healthy": "#1a7f37", "unhealthy": "#9a6700"}  # the rest: red
_WRAP = "white-space:normal;overflow-wrap:anywhere;word-break:break-word;text-align:left"
_MAX_MARKED_HOSTS = 60  # more rows than this: no marks or host names, the colours alone


class HostResult(BaseModel):
    """One host's answer: its health report, or why there is none."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="The target's name (inventory host name, or as given).")
    server: str = Field(description="The host name or address that was contacted.")
    groups: tuple[str, ...] = Field(
        default=(), description="The inventory groups the target belongs to."
    )
    outcome: Outcome = Field(
        description="healthy or unhealthy when the host answered; otherwise why it could not "
        "be asked: unreachable, auth_failed, timed_out, host_error or error."
    )
    report: HealthReport | None = Field(
        default=None, description="The host's health report; None when it did not answer."
    )
    error: str | None = Field(
        default=None, description="Why the host could not be asked; None when it answered."
    )
    seconds: float = Field(description="Wall-clock seconds the host took, in seconds.")

    @property
    def problem_codes(self) -> list[str]:
        """The code of every problem the host reported, in check order."""
        return [p.code for p in self.report.problems] if self.report else []

    @property
    def failing_checks(self) -> list[str]:
        """The checks whose status is ``problem`` or ``error``."""
        return [c for c in CHECKS if self.cell(c) in ("problem", "error")]

    @property
    def fixes(self) -> dict[str, list[str]]:
        """Each distinct fix the host needs, with the codes of the problems it fixes."""
        fixes: dict[str, list[str]] = {}
        for problem in self.report.problems if self.report else ():
            codes = fixes.setdefault(problem.fix, [])
            if problem.code not in codes:
                codes.append(problem.code)
        return fixes

    def cell(self, check: str) -> Cell:
        """This host's result for ``check`` (one of ``CHECKS``)."""
        if self.report is None:
            return "not asked"
        status = self.report.checks[check].status
        return "not asked" if status == "disabled" else status


class FleetReport(BaseModel):
    """The audit of many hosts; ``ok`` only when every host answered and is healthy."""

    model_config = ConfigDict(frozen=True)

    results: tuple[HostResult, ...] = Field(description="One result per target, in input order.")
    seconds: float = Field(description="Wall-clock seconds the whole audit took.")

    @property
    def ok(self) -> bool:
        """True when every host answered and is healthy."""
        return all(r.outcome == "healthy" for r in self.results)

    def outcomes(self) -> Counter[str]:
        """How many hosts ended in each outcome."""
        return Counter(r.outcome for r in self.results)

    def failing_checks(self) -> Counter[str]:
        """Which checks fail (problem or error) on how many hosts, most common first."""
        return Counter(check for r in self.results for check in r.failing_checks)

    def failing_most(self) -> tuple[list[str], int]:
        """The checks failing on the most hosts (every one of them when tied), and how many.

        Returns:
            The tied checks in report order and their host count; ``([], 0)`` when no check
            fails anywhere.
        """
        counts = self.failing_checks()
        top = max(counts.values(), default=0)
        return [c for c in CHECKS if top and counts[c] == top], top

    def problem_codes(self) -> Counter[str]:
        """How many times each problem code occurs across the fleet."""
        return Counter(code for r in self.results for code in r.problem_codes)

    def summary(self) -> str:
        """One line: hosts per outcome, and the checks failing most (ties named in full)."""
        counts = ", ".join(f"{n} {o}" for o, n in sorted(self.outcomes().items()))
        text = f"{_hosts(len(self.results))}: {counts}" if counts else "0 hosts"
        checks, hosts = self.failing_most()
        if len(checks) == 1:
            text += f"; failing most: {checks[0]} ({_hosts(hosts)})"
        elif checks:
            text += f"; failing most, tied at {_hosts(hosts)} each: {', '.join(checks)}"
        return text

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per host (what the CLI table, the CSV and the DataFrame show)."""
        rows = []
        for r in self.results:
            row: dict[str, Any] = {
                "host": r.name,
                "server": r.server,
                "groups": ";".join(r.groups),
                "outcome": r.outcome,
            }
            checks = r.report.checks if r.report else {}
            for name in CHECKS:
                row[name] = checks[name].status if name in checks else None
            row["problems"] = ";".join(r.problem_codes)
            row["error"] = r.error or ""
            row["seconds"] = round(r.seconds, 3)
            rows.append(row)
        return rows

    def to_json(self, *, indent: int | None = None) -> str:
        """The whole report as JSON (``FleetReport.model_validate_json`` reads it back)."""
        return self.model_dump_json(indent=indent)

    def to_dataframe(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame indexed by host, one column per check.

        Returns:
            The DataFrame of ``rows()``.

        Raises:
            MissingDependencyError: pandas is not installed (extra ``ddperm[fleet]``).
        """
        try:
            import pandas
        except ImportError as exc:
            raise MissingDependencyError("pandas") from exc
        frame: pandas.DataFrame = pandas.DataFrame(self.rows()).set_index("host")
        return frame

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text form: the summary, not every field of every report."""
        printer.text(f"<FleetReport: {self.summary()}>")

    def _repr_html_(self) -> str:
        """A table as wide as the notebook cell: a status cell per check, and under each
        host that is not healthy its fixes or its error, wrapped."""
        head = "".join(f"<th>{html.escape(c)}</th>" for c in ("host", "outcome", *CHECKS))
        body = [_html_row(r) for r in self.results]
        return (
            '<table class="ddperm-fleet" style="table-layout:auto;width:100%;max-width:100%">'
            f'<caption style="{_WRAP}">{html.escape(self.summary())}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def plot(self) -> Figure:
        """A heat-map of hosts × checks under a bar of how many hosts fail each check.

        Each cell is ok, problem, error or not asked (the host did not answer, or the check
        is disabled by policy); a legend names the colours, problem and error cells are also
        marked (! and ×), and hosts that could not be asked show their outcome.

        Returns:
            A matplotlib Figure (not attached to pyplot; Jupyter displays it).

        Raises:
            MissingDependencyError: matplotlib is not installed (extra ``ddperm[fleet]``).
        """
        try:
            from matplotlib.colors import ListedColormap
            from matplotlib.figure import Figure
            from matplotlib.patches import Patch
            from matplotlib.ticker import MaxNLocator
        except ImportError as exc:
            raise MissingDependencyError("matplotlib") from exc
        height = min(0.3 * max(len(self.results), 1), 10.0)
        figure = Figure(figsize=(8.0, 2.2 + height), layout="constrained")
        bars, heat = figure.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [1.3, height]}
        )
        _draw_counts(bars, self.results, MaxNLocator(integer=True))
        _draw_grid(heat, self.results, ListedColormap(list(CELL_COLOURS.values())))
        legend = [Patch(color=colour, label=cell) for cell, colour in CELL_COLOURS.items()]
        heat.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        return figure


def _draw_counts(axes: Axes, results: Sequence[HostResult], locator: Locator) -> None:
    """Stacked bars: per check, the hosts with a problem and those where it could not run."""
    below = [0] * len(CHECKS)
    for status in ("problem", "error"):
        counts = [sum(r.cell(c) == status for r in results) for c in CHECKS]
        drawn = axes.bar(range(len(CHECKS)), counts, bottom=below, color=CELL_COLOURS[status])
        below = [b + n for b, n in zip(below, counts, strict=True)]
    axes.bar_label(drawn, labels=[str(n) if n else "" for n in below])
    axes.set_ylim(0, max(1, *below) * 1.3)
    axes.yaxis.set_major_locator(locator)
    axes.set_ylabel("hosts failing")
    asked = sum(r.report is not None for r in results)
    axes.set_title(f"{len(results)} hosts, {asked} answered", loc="left")


def _draw_grid(axes: Axes, results: Sequence[HostResult], colours: Colormap) -> None:
    """One row per host, one column per check, coloured (and marked) by its cell."""
    cells = list(CELL_COLOURS)
    grid = [[cells.index(r.cell(c)) for c in CHECKS] for r in results]
    empty = [[cells.index("not asked")] * len(CHECKS)]
    axes.imshow(
        grid or empty,
        cmap=colours,
        vmin=-0.5,
        vmax=len(cells) - 0.5,
        aspect="auto",
        interpolation="nearest",  # crisp cells, never blended
    )
    axes.set_xticks(range(len(CHECKS)), CHECKS, rotation=30, ha="right")
    axes.set_xticks([x - 0.5 for x in range(1, len(CHECKS))], minor=True)
    axes.grid(which="minor", color="white", linewidth=1.5)
    axes.tick_params(which="minor", length=0)
    if len(grid) > _MAX_MARKED_HOSTS:  # too many rows to name: the pattern alone
        axes.set_yticks([])
        axes.set_ylabel(f"{len(grid)} hosts")
        return
    axes.set_yticks([y - 0.5 for y in range(1, len(grid))], minor=True)
    axes.set_yticks(range(len(grid)), [_host_label(r) for r in results])
    for y, row in enumerate(grid):
        for x, index in enumerate(row):
            mark = _CELL_MARKS[cells[index]]
            axes.text(x, y, mark, ha="center", va="center", color="white", weight="bold")


def _hosts(count: int) -> str:
    return f"{count} host" if count == 1 else f"{count} hosts"


def _host_label(result: HostResult) -> str:
    return result.name if result.report is not None else f"{result.name} ({result.outcome})"


def _html_row(result: HostResult) -> str:
    colour = _OUTCOME_COLOURS.get(result.outcome, "#cf222e")
    groups = f"<br><small>{html.escape(', '.join(result.groups))}</small>" if result.groups else ""
    cells = [
        f'<td title="{html.escape(result.server)}">{html.escape(result.name)}{groups}</td>',
        f'<td style="color:{colour}">{html.escape(result.outcome)}</td>',
    ]
    for check in CHECKS:
        cell = result.cell(check)
        text = "–" if cell == "not asked" else cell
        cells.append(f'<td title="{cell}" style="background:{CELL_COLOURS[cell]}33">{text}</td>')
    row = f"<tr>{''.join(cells)}</tr>"
    notes = [
        f"<b>{html.escape(', '.join(codes))}</b>: {html.escape(fix)}"
        for fix, codes in result.fixes.items()
    ]
    if result.error:
        notes.append(html.escape(result.error))
    if not notes:
        return row
    span = 2 + len(CHECKS)
    detail = "<br>".join(notes)
    return f'{row}<tr class="ddperm-detail"><td colspan="{span}" style="{_WRAP}">{detail}</td></tr>'
