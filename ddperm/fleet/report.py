"""FleetReport: per host the HealthReport or the error, plus summaries for people.

``to_json()`` and ``to_dataframe()`` are for machines and notebooks, ``_repr_html_``
shows a coloured table in Jupyter, and ``plot()`` draws problems by check.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from ddperm.components.health import HealthReport

if TYPE_CHECKING:  # optional extras
    import pandas
    from matplotlib.figure import Figure

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
_COLOURS = {"healthy": "#1a7f37", "unhealthy": "#9a6700"}  # every other outcome: red


class HostResult(BaseModel):
    """One host's answer: its health report, or why there is none."""

    model_config = ConfigDict(frozen=True)

    name: str
    server: str
    groups: tuple[str, ...] = ()
    outcome: Outcome
    report: HealthReport | None = None
    error: str | None = None
    seconds: float

    @property
    def problem_codes(self) -> list[str]:
        return [p.code for p in self.report.problems] if self.report else []

    @property
    def failing_checks(self) -> list[str]:
        if self.report is None:
            return []
        return [n for n, c in self.report.checks.items() if c.status in ("problem", "error")]


class FleetReport(BaseModel):
    """The audit of many hosts; ``ok`` only when every host answered and is healthy."""

    model_config = ConfigDict(frozen=True)

    results: tuple[HostResult, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(r.outcome == "healthy" for r in self.results)

    def outcomes(self) -> Counter[str]:
        """How many hosts ended in each outcome."""
        return Counter(r.outcome for r in self.results)

    def failing_checks(self) -> Counter[str]:
        """Which checks fail on how many hosts, most common first."""
        return Counter(check for r in self.results for check in r.failing_checks)

    def problem_codes(self) -> Counter[str]:
        return Counter(code for r in self.results for code in r.problem_codes)

    def summary(self) -> str:
        counts = ", ".join(f"{n} {o}" for o, n in sorted(self.outcomes().items()))
        worst = ", ".join(f"{c} ({n})" for c, n in self.failing_checks().most_common(3))
        return f"{len(self.results)} hosts: {counts}" + (
            f"; failing most: {worst}" if worst else ""
        )

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per host (what the table, the CSV and the DataFrame show)."""
        rows = []
        for r in self.results:
            row: dict[str, Any] = {
                "host": r.name,
                "server": r.server,
                "groups": ";".join(r.groups),
                "outcome": r.outcome,
            }
            checks = r.report.checks if r.report else {}
            for name in HealthReport.model_fields:
                if name != "healthy":
                    row[name] = checks[name].status if name in checks else None
            row["problems"] = ";".join(r.problem_codes)
            row["error"] = r.error or ""
            row["seconds"] = round(r.seconds, 3)
            rows.append(row)
        return rows

    def to_json(self, *, indent: int | None = None) -> str:
        return self.model_dump_json(indent=indent)

    def to_dataframe(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (extra ``ddperm[fleet]``)."""
        import pandas

        frame: pandas.DataFrame = pandas.DataFrame(self.rows()).set_index("host")
        return frame

    def _repr_html_(self) -> str:
        rows = self.rows()
        columns = list(rows[0]) if rows else ["host", "outcome"]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = []
        for row in rows:
            colour = _COLOURS.get(row["outcome"], "#cf222e")
            cells = "".join(
                f'<td style="color:{colour}">{html.escape(str(row[c]))}</td>'
                if c == "outcome"
                else f"<td>{html.escape('' if row[c] is None else str(row[c]))}</td>"
                for c in columns
            )
            body.append(f"<tr>{cells}</tr>")
        caption = html.escape(self.summary())
        return (
            f'<table class="ddperm-fleet"><caption>{caption}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def plot(self) -> Figure:
        """A bar chart: how many hosts fail each check, and how many could not be asked."""
        from matplotlib.figure import Figure

        failing = self.failing_checks()
        unasked = Counter(r.outcome for r in self.results if r.outcome in FAILED_TO_ASK)
        labels = [*failing, *(f"({o})" for o in unasked)]
        values = [*failing.values(), *unasked.values()]
        colours = ["#9a6700"] * len(failing) + ["#cf222e"] * len(unasked)
        figure = Figure(figsize=(max(4.0, 0.9 * len(labels) + 2), 3.2))
        axes = figure.subplots()
        axes.bar(labels, values, color=colours)
        axes.set_ylabel("hosts")
        axes.set_title(f"Problems by check ({len(self.results)} hosts)")
        axes.tick_params(axis="x", rotation=30)
        figure.tight_layout()
        return figure
