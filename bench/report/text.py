"""Printers: a RunSummary as the terminal table and report.md. They only lay out what
bench.report.tables and bench.report.sentences write; every number is computed in
bench.analyse."""

from __future__ import annotations

from tabulate import tabulate

from bench.analyse.summary import RunSummary
from bench.definitions.overrides import describe
from bench.report import backend_table, published_block
from bench.report.formats import DASH
from bench.report.sentences import (
    BREAKDOWN_INTRO,
    DEPLOYMENT_INTRO,
    WEAK_INTRO,
    comparisons,
    machine_speed,
    model_intro,
    model_lines,
    replay_errors,
)
from bench.report.tables import (
    ACCURACY_HEADERS,
    BREAKDOWN_HEADERS,
    HEADERS,
    MISMATCH_HEADERS,
    WEAK_HEADERS,
    accuracy_rows,
    breakdown_rows,
    deployment_table,
    mismatch_rows,
    model_table,
    phase_names,
    phase_rows,
    table_rows,
    weak_rows,
)


def _model_table(summary: RunSummary, tablefmt: str) -> str:
    headers, rows = model_table(summary)
    return tabulate(rows, headers=headers, tablefmt=tablefmt, disable_numparse=True)


def to_table(summary: RunSummary) -> str:
    parts = [tabulate(table_rows(summary), headers=HEADERS, disable_numparse=True)]
    parts += ["", *comparisons(summary)]
    if line := replay_errors(summary):
        parts.append(line)
    if line := machine_speed(summary):
        parts.append(line)
    if summary.accuracy is not None:
        parts += ["", f"Accuracy ({summary.workload}, grid '{summary.grid}', trials of "
                      f"{summary.accuracy.source}):",
                  tabulate(accuracy_rows(summary.accuracy),
                           headers=ACCURACY_HEADERS, disable_numparse=True)]
    if summary.model:
        parts += ["", model_intro(summary), _model_table(summary, "simple"), "",
                  *model_lines(summary)]
    if summary.published is not None:
        parts += ["", *published_block.text_lines(summary.published)]
    if summary.deployments:
        headers, rows = deployment_table(summary)
        parts += ["", DEPLOYMENT_INTRO, tabulate(rows, headers=headers, disable_numparse=True)]
    if summary.weak_runs:
        parts += ["", WEAK_INTRO, tabulate(weak_rows(summary), headers=WEAK_HEADERS,
                                           disable_numparse=True)]
    if any(r.slot_seconds for r in summary.rows):
        parts += ["", BREAKDOWN_INTRO, tabulate(breakdown_rows(summary),
                                                headers=BREAKDOWN_HEADERS, disable_numparse=True)]
    for t in summary.backend_tables:
        parts += ["", f"Back-ends on {backend_table.title(t)}:",
                  tabulate(backend_table.cells(t), headers=backend_table.HEADERS,
                           disable_numparse=True)]
    if summary.backend_tables:
        parts += [line for line in (backend_table.identity_line(summary),) if line]
    if summary.notes:
        parts += ["", *(f"note: {n}" for n in summary.notes)]
    return "\n".join(parts)


def to_markdown(summary: RunSummary, meta: dict) -> str:
    changed = describe(meta.get("workload", {}).get("settings", {}))  # grid's and --set's
    md = [f"# {summary.workload}: grid '{summary.grid}'", "",
          *([f"Settings changed for this run: {changed}.", ""] if changed else []),
          f"Run `{summary.run_id}`; speedups against `{summary.reference or DASH}` (1 node, "
          "measured). Every row says where its figures come from: **measured** (real trials), "
          "**replay** (the real cluster of that size running surrogate trials that sleep for the "
          "1-node durations).", "",
          tabulate(table_rows(summary), headers=HEADERS, tablefmt="github",
                   disable_numparse=True), ""]
    md += [f"- {line}" for line in comparisons(summary)]
    for line in filter(None, (replay_errors(summary), machine_speed(summary))):
        md += ["", line[0].upper() + line[1:]]
    if summary.accuracy is not None:
        acc = summary.accuracy
        md += ["", "## Accuracy", "",
               f"The best configuration is chosen on the validation split; test errors are on "
               f"the test split (trials of `{acc.source}`).", "",
               tabulate(accuracy_rows(acc), headers=ACCURACY_HEADERS,
                        tablefmt="github", disable_numparse=True)]
        if acc.mismatches:
            md += ["", "### Metric mismatches", "",
                   tabulate(mismatch_rows(acc), headers=MISMATCH_HEADERS, tablefmt="github")]
    if summary.model:
        md += ["", "## Model", "", model_intro(summary), "", _model_table(summary, "github"), "",
               *(f"- {line}" for line in model_lines(summary))]
    if summary.published is not None:
        md += ["", *published_block.markdown_lines(summary.published)]
    if summary.deployments:
        headers, rows = deployment_table(summary)
        md += ["", "## Deployment", "", DEPLOYMENT_INTRO, "",
               tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)]
    if summary.weak_runs:
        md += ["", "## Weak scaling", "", WEAK_INTRO, "",
               tabulate(weak_rows(summary), headers=WEAK_HEADERS, tablefmt="github",
                        disable_numparse=True)]
    if any(r.slot_seconds for r in summary.rows):
        md += ["", "## Where the time goes", "", BREAKDOWN_INTRO, "",
               tabulate(breakdown_rows(summary), headers=BREAKDOWN_HEADERS, tablefmt="github",
                        disable_numparse=True)]
    if summary.backend_tables:
        md += ["", "## Back-ends", "", backend_table.INTRO]
        for t in summary.backend_tables:
            md += ["", f"### {backend_table.title(t)}", "",
                   tabulate(backend_table.cells(t), headers=backend_table.HEADERS,
                            tablefmt="github", disable_numparse=True), "",
                   *(f"- {line}" for line in backend_table.loss_lines(t))]
        md += [f"\n{line}" for line in (backend_table.identity_line(summary),) if line]
    md += ["", "## Phases (mean seconds per trial)", "",
           tabulate(phase_rows(summary), headers=["profile", "mode", *phase_names(summary)],
                    tablefmt="github", disable_numparse=True)]
    if summary.notes:
        md += ["", "## Notes", "", *(f"- {n}" for n in summary.notes)]
    md += ["", "## Environment", "",
           tabulate(sorted((k, str(v)) for k, v in summary.environment.items()),
                    headers=["", ""], tablefmt="github"), ""]
    return "\n".join(md)
