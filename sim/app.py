"""The interactive dashboard's page (Solara): ``frontiersim dashboard`` serves it.

Left, a run: a named scenario, its seed and horizon, the main parameters as inputs and any other
as ``KEY=VALUE`` lines; the run shows its progress and can be stopped. Below it, a run or ensemble
directory written earlier can be opened. Right, three tabs:

* **Results**: one run or ensemble at a time, with the report's figures and deals network (an
  ensemble as medians inside 5-95% bands), its headline numbers at milestone years, its events and
  parameters, and buttons that save a run's outputs (as ``frontiersim run --out``) or an ensemble
  made here (as ``frontiersim ensemble --out``) and download its HTML report or its monthly model
  table as CSV;
* **Compare**: two or more of them side by side on one headline metric, with the differences
  from the first at milestone years (and, between ensembles, with confidence intervals);
* **About**: how to read the measures.

What the page does is in :mod:`sim.dashboard`; this module only lays it out. Every state below is
per browser session (Solara keeps a module's reactive variables per session).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import time
from pathlib import Path

import solara
import solara.lab

from sim import dashboard as D
from sim.dashboard_cli import OPEN_ENV

log = logging.getLogger("frontiersim.dashboard")


# ----- session state ------------------------------------------------------------------------
_STATE: list[tuple[solara.Reactive, object]] = []


def _state(default):
    """A state of the page, kept per browser session, that :func:`reset_session` sets back."""
    r = solara.reactive(copy.copy(default))
    _STATE.append((r, default))
    return r


def reset_session() -> None:
    """Set every state of the page back to what a new session starts with."""
    for r, default in _STATE:
        r.set(copy.copy(default))


scenario = _state("baseline")
seed = _state(0)
n_runs = _state(1)  # 1: one run with the seed; more: an ensemble whose seeds derive from it
start = _state("")
end = _state("")
lever_values: solara.Reactive[dict] = _state({})  # dotted key -> value the user set
extra = _state("")  # KEY=VALUE lines
check = _state(False)
live: solara.Reactive[D.Progress | None] = _state(None)
run_message: solara.Reactive[tuple[str, str] | None] = _state(None)  # (kind, one line)
open_path = _state("")
open_message: solara.Reactive[tuple[str, str] | None] = _state(None)
runs: solara.Reactive[dict] = _state({})  # label -> analysis.io.RunSet, in the order added
results: solara.Reactive[dict] = _state({})  # label -> sim.run.RunResult (runs made here)
ensemble_dirs: solara.Reactive[dict] = _state({})  # label -> the directory an ensemble made here is written in
shown = _state("")  # label shown in Results
figure = _state("capability")
save_path = _state("")
save_message: solara.Reactive[tuple[str, str] | None] = _state(None)
compared: solara.Reactive[list] = _state([])
metric = _state("frontier_ece")
opened_at_start = _state(False)


CSS = """
.fs-small{font-size:.85em;color:#555}
.fs-tables table{border-collapse:collapse;font-size:.85em;margin:.4em 0}
.fs-tables th,.fs-tables td{border:1px solid #d0d0d0;padding:.2em .5em;vertical-align:top}
.fs-tables th{background:#f3f3f3;text-align:left}
.fs-tables td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.fs-tables td.pos{color:#1a6b1a} .fs-tables td.neg{color:#a01c1c}
.fs-tables .small{font-size:.85em;color:#555}
.fs-tables img{max-width:100%;height:auto}
"""


@functools.lru_cache(maxsize=32)
def base_scenario(name: str):
    """The named scenario as its file defines it (cached: scenario files are read once)."""
    from scenarios.loader import load_scenario

    return load_scenario(name)[0]


def named() -> list[str]:
    from scenarios.loader import named_scenarios

    return named_scenarios()


def _add(rs_label: str, rs, res=None) -> None:
    if res is not None:  # (first: the page shows the run once it is in runs, and reads its tables here)
        results.set({**results.value, rs_label: res})
    runs.set({**runs.value, rs_label: rs})
    shown.set(rs_label)


def overrides_now() -> list[str]:
    """The overrides of the run the inputs describe: levers set to a value other than the
    scenario's, then the KEY=VALUE lines (which win, as later --set options do).

    Raises:
        ScenarioError: a line that is not KEY=VALUE.
    """
    sc = base_scenario(scenario.value)
    out = [f"{k}={D.format_value(v)}" for k, v in lever_values.value.items() if v is not None and v != D.value_of(sc, k)]
    return out + D.override_lines(extra.value)


@solara.lab.task(prefer_threaded=True)
def run_task(name: str, overrides: list[str], run_seed: int, first: str | None, last: str | None, checked: bool,
             count: int = 1):
    """Make the run (``count`` 1) or ensemble the inputs describe, in a thread of its own, and add
    it to the session; its progress goes to :data:`live`, its outcome to :data:`run_message`."""
    from scenarios.loader import ScenarioError
    from sim.cli import UserError

    def progress(p: D.Progress) -> bool:
        live.set(p)
        return run_task.is_current()  # (False once Stop is pressed: the run stops)

    t0 = time.perf_counter()
    try:
        if count == 1:
            made = D.simulate(name, overrides, run_seed, first, last, checked, progress)
        else:
            made, where = D.simulate_ensemble(name, overrides, count, run_seed, first, last, checked, progress)
    except D.Cancelled as e:
        run_message.set(("info", f"Run {e}; nothing was kept."))
        return None
    except (ScenarioError, UserError) as e:
        run_message.set(("error", str(e)))
        return None
    except Exception as e:  # a bug: say so in one line, with the traceback in the server's log
        log.exception("run failed")
        run_message.set(("error", f"internal error ({e.__class__.__name__}: {e}); the traceback is in the dashboard's log"))
        return None
    label = D.run_label(name, run_seed, overrides, runs.value, runs=count)
    if count == 1:
        _add(label, D.runset_of(made, label), made)
        what = f"{len(made.model)} months"
    else:
        made.path = Path(label)
        ensemble_dirs.set({**ensemble_dirs.value, label: where})
        _add(label, made)
        what = f"{count} x {made.model['date'].nunique()} months"
    run_message.set(("success", f"{label}: {what} simulated in {time.perf_counter() - t0:.1f} s."))
    return label


def start_run() -> None:
    """Start the run the inputs describe, unless an input is wrong (then say which, in one line)."""
    from scenarios.loader import ScenarioError

    live.set(None)
    try:
        overrides = overrides_now()
    except ScenarioError as e:
        run_message.set(("error", str(e)))
        return
    run_seed, count = seed.value, n_runs.value
    if run_seed is None or run_seed < 0:
        run_message.set(("error", f"seed: {run_seed}: expected a whole number >= 0"))
        return
    if count is None or count < 1:
        run_message.set(("error", f"runs: {count}: expected a whole number >= 1"))
        return
    run_message.set(None)
    run_task(scenario.value, overrides, int(run_seed), start.value.strip() or None, end.value.strip() or None,
             bool(check.value), int(count))


def open_directory(path: str) -> None:
    """Open a run or ensemble directory into the session (its error as one line)."""
    from analysis.io import load_runs
    from sim.cli import UserError

    path = path.strip()
    if not path:
        open_message.set(("error", "expected the path of a run or ensemble directory"))
        return
    try:
        rs = load_runs(path)
    except UserError as e:
        open_message.set(("error", str(e)))
        return
    label = D.open_label(rs, runs.value)
    _add(label, rs)
    open_message.set(("success", f"opened {label}"))


def _message(msg) -> None:
    if msg is None:
        return
    kind, text = msg
    {"error": solara.Error, "info": solara.Info, "success": solara.Success}.get(kind, solara.Info)(text, dense=True)


# ----- left: a run, and a directory to open -------------------------------------------------
@solara.component
def LeverInput(lever: D.Lever, current) -> None:
    def set_value(v, key=lever.key) -> None:
        lever_values.set({**lever_values.value, key: v})

    value = lever_values.value.get(lever.key, current)
    text = f"{lever.label} ({lever.unit}; {lever.allowed})" if lever.unit not in ("-", "") else f"{lever.label} ({lever.allowed})"
    if lever.kind == "bool":
        solara.Checkbox(label=lever.label, value=bool(value), on_value=set_value)
    elif lever.kind == "choice":
        solara.Select(lever.label, values=list(lever.choices), value=str(value), on_value=set_value)
    elif lever.kind == "int":
        solara.InputInt(text, value=int(value), on_value=set_value)
    else:
        NumberInput(text, float(value), set_value)


@solara.component
def NumberInput(label: str, value: float, on_value) -> None:
    """A float in its shortest exact form (3e+14, not 300000000000000.0); a text that is not a
    number is flagged in the field and changes nothing."""
    problem, set_problem = solara.use_state("")

    def parse(text: str | None) -> None:
        try:
            v = float((text or "").strip())
        except ValueError:
            set_problem(f"{text!r} is not a number")
            return
        set_problem("")
        on_value(v)

    solara.InputText(label, value=D.short_number(value), on_value=parse, error=problem or False)


@solara.component
def RunPanel() -> None:
    sc = base_scenario(scenario.value)
    busy = run_task.pending
    with solara.Card("Run a scenario", margin=0):
        solara.Select("Scenario", values=named(), value=scenario, disabled=busy)
        solara.HTML(tag="p", unsafe_innerHTML=_escape(sc.question), classes=["fs-small"])
        with solara.Row():
            solara.InputInt("Seed", value=seed, disabled=busy)
            solara.InputInt("Runs", value=n_runs, disabled=busy)
        if (n_runs.value or 1) > 1:
            solara.HTML(tag="p", classes=["fs-small"], unsafe_innerHTML=(
                f"An ensemble of {n_runs.value} runs whose seeds derive from seed {seed.value}, as "
                f"<code>frontiersim ensemble --runs {n_runs.value} --seed {seed.value}</code> makes them, in "
                f"{D.default_workers(n_runs.value)} worker process{'es' if D.default_workers(n_runs.value) > 1 else ''}."))
        with solara.Row():
            solara.InputText("First month", value=start, placeholder=sc.start, disabled=busy)
            solara.InputText("Last month", value=end, placeholder=sc.end, disabled=busy)
        with solara.Details("Main parameters (the scenario's values until changed)"):
            for lever in D.levers():
                LeverInput(lever, D.value_of(sc, lever.key))
            solara.Button("Reset to the scenario's values", on_click=lambda: lever_values.set({}), text=True,
                          disabled=not lever_values.value)
        solara.InputTextArea("Other parameters: KEY=VALUE, one a line (as --set)", value=extra, rows=2)
        solara.Checkbox(label="Check the conservation laws every month (as the --check option does)", value=check)
        with solara.Row():
            solara.Button("Run", on_click=start_run, color="primary", disabled=busy)
            solara.Button("Stop", on_click=run_task.cancel, disabled=not busy)
        if busy:
            p = live.value
            solara.ProgressLinear(100 * p.fraction if p is not None else True)
            solara.Text(p.line() if p is not None else "setting up the model...", classes=["fs-small"])
        _message(run_message.value)


@solara.component
def OpenPanel() -> None:
    with solara.Card("Open outputs", margin=0):
        solara.HTML(tag="p", classes=["fs-small"], unsafe_innerHTML=(
            "A directory written by <code>frontiersim run</code>, <code>ensemble</code>, <code>sweep</code> "
            "or <code>sensitivity</code>, as a path on the machine serving this page."))
        solara.InputText("Directory", value=open_path)
        solara.Button("Open", on_click=lambda: open_directory(open_path.value))
        _message(open_message.value)


# ----- right: results, comparison, help -----------------------------------------------------
def _escape(text) -> str:
    import html

    return html.escape(str(text or ""))


@solara.component
def Figure(rs, label: str, anchor: str) -> None:
    from analysis import headline as H
    from analysis.report import figure_png, figure_specs

    def draw() -> bytes:
        df = H.add_derived(rs.model)
        budget = (rs.parameters.get("reference") or {}).get("meek_budget_usd")
        return figure_png(df, anchor, rs.scenario, budget)

    png = solara.use_memo(draw, dependencies=[label, id(rs), anchor])
    spec = next(s for s in figure_specs() if s.anchor == anchor)
    solara.Image(png, width="100%")
    solara.HTML(tag="p", unsafe_innerHTML=spec.caption, classes=["fs-small"])


def _deals_source(rs, label: str):
    """Where the deals network of ``rs`` comes from: the run made here (its deals table), a run
    directory's deals.graphml (an ensemble's first run), or None."""
    if label in results.value:
        return results.value[label].deals
    d = rs.first_run_dir()
    return d if d is not None and (d / "deals.graphml").is_file() else None


@solara.component
def DealsView(rs, label: str, source) -> None:
    """The report's deals section: the network drawn, deals by kind, circular pairs."""
    from analysis.io import load_deals
    from analysis.report import deals_html, deals_summary
    from sim.deals import build_graph

    def make() -> str:
        g = load_deals(source) if isinstance(source, Path) else build_graph(source)
        return deals_html(rs, deals_summary(g, rs.scenario))

    solara.HTML(unsafe_innerHTML=solara.use_memo(make, dependencies=[label, id(rs)]), classes=["fs-tables"])


def save_outputs(label: str, path: str) -> None:
    """Write a run made here as ``frontiersim run --out`` writes it, or copy an ensemble made here
    (the directory ``frontiersim ensemble --out`` would hold, which that command can extend)."""
    from sim.run import write_outputs

    path = path.strip()
    if not path:
        save_message.set(("error", "expected a directory to write the outputs into"))
        return
    try:
        if label in ensemble_dirs.value:
            out = D.save_ensemble(ensemble_dirs.value[label], path)
        else:
            out = write_outputs(results.value[label], path)
    except ValueError as e:  # a directory that cannot take them (checked before anything is written)
        save_message.set(("error", str(e)))
        return
    except OSError as e:
        save_message.set(("error", f"{path}: cannot write the outputs ({e.strerror or e}); nothing was written"))
        return
    save_message.set(("success", f"outputs written to {out}"))


@solara.component
def ResultsTab() -> None:
    if not runs.value:
        solara.Info("Nothing to show yet: run a scenario, or open a run or ensemble directory (left).")
        return
    label = shown.value if shown.value in runs.value else list(runs.value)[-1]
    with solara.Row():
        solara.Select("Run or ensemble", values=list(runs.value), value=label, on_value=shown.set)
        solara.Button("Remove", text=True, on_click=lambda: _remove(label))
    RunView(runs.value[label], label)


@solara.component
def RunView(rs, label: str) -> None:
    """One run or ensemble: figures, headline numbers, parameters, report and saving."""
    from analysis import headline as H
    from analysis.report import events_html, figure_specs, parameters_html, report_html, summary_html

    df = solara.use_memo(lambda: H.add_derived(rs.model), dependencies=[label, id(rs)])
    table = solara.use_memo(lambda: summary_html(df, rs.n_runs, rs.runs_label), dependencies=[label, id(rs)])
    params = solara.use_memo(lambda: parameters_html(rs), dependencies=[label, id(rs)])
    made = results.value.get(label)
    events = solara.use_memo(lambda: events_html(rs, {label: made.events} if made is not None else None),
                             dependencies=[label, id(rs), id(made)])
    solara.Text(D.describe(rs))
    if rs.parameters.get("question"):
        solara.HTML(tag="p", unsafe_innerHTML=_escape(rs.parameters["question"]), classes=["fs-small"])
    anchors = [s.anchor for s in figure_specs() if any(c in df.columns for c in s.columns)]
    deals = _deals_source(rs, label)
    if deals is not None:
        anchors.append("deals")
    if anchors:
        chosen = figure.value if figure.value in anchors else anchors[0]
        solara.ToggleButtonsSingle(value=chosen, values=anchors, on_value=figure.set)
        if chosen == "deals":
            DealsView(rs, label, deals)
        else:
            Figure(rs, label, chosen)
    with solara.Details("Headline numbers at milestone years", expand=True):
        solara.HTML(unsafe_innerHTML=table, classes=["fs-tables"])
    with solara.Details("Scenario parameters"):
        solara.HTML(unsafe_innerHTML=params, classes=["fs-tables"])
    if events:
        with solara.Details("Events (finished training runs, releases, funding rounds, exits, policies)"):
            solara.HTML(unsafe_innerHTML=events, classes=["fs-tables"])
    with solara.Row():
        solara.FileDownload(lambda: report_html(rs), filename=f"{_file_name(label)}.html", label="Download the HTML report",
                            mime_type="text/html")
        solara.FileDownload(lambda: rs.model.to_csv(index=False), filename=f"{_file_name(label)}-model.csv",
                            label="Download the monthly model table (CSV)", mime_type="text/csv")
    if label in results.value or label in ensemble_dirs.value:
        what = "run's outputs" if label in results.value else "ensemble (as frontiersim ensemble --out writes it)"
        with solara.Row():
            solara.InputText(f"Save this {what} to (a new directory)", value=save_path)
            solara.Button("Save", on_click=lambda: save_outputs(label, save_path.value))
        _message(save_message.value)


def _file_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label).strip("_") or "run"


def _remove(label: str) -> None:
    import shutil

    if label in ensemble_dirs.value:  # (a temporary directory of this session's)
        shutil.rmtree(ensemble_dirs.value[label], ignore_errors=True)
        ensemble_dirs.set({k: v for k, v in ensemble_dirs.value.items() if k != label})
    runs.set({k: v for k, v in runs.value.items() if k != label})
    results.set({k: v for k, v in results.value.items() if k != label})
    compared.set([k for k in compared.value if k != label])


@solara.component
def CompareTab() -> None:
    labels = list(runs.value)
    if len(labels) < 2:
        solara.Info("Comparing needs two or more runs or ensembles: run scenarios or open directories (left).")
        return
    chosen = [k for k in compared.value if k in runs.value] or labels[:2]
    solara.SelectMultiple("Runs and ensembles (the first is the reference)", values=chosen, all_values=labels,
                          on_value=compared.set)
    if len(chosen) < 2:
        solara.Info("Pick two or more.")
        return
    CompareView({k: runs.value[k] for k in chosen})


@solara.component
def CompareView(sets: dict) -> None:
    """Two or more runs or ensembles (label -> RunSet; the first is the reference) on one metric."""
    from analysis import headline as H
    from analysis.report import comparison_png, compares_ensembles, contrasts_html, differences_html
    from analysis.stats import ensemble_contrasts

    key = (tuple(sets), tuple(id(rs) for rs in sets.values()))
    frames = solara.use_memo(lambda: {k: H.add_derived(rs.model) for k, rs in sets.items()}, dependencies=[key])
    metrics = [m for m in H.HEADLINE if any(H.available(df, [m]) for df in frames.values())]
    m = next((x for x in metrics if x.column == metric.value), metrics[0] if metrics else None)
    png = solara.use_memo(lambda: comparison_png(frames, m) if m is not None else b"", dependencies=[key, m])
    ensembles = compares_ensembles(sets.values())
    noise = solara.use_memo(
        lambda: contrasts_html(*ensemble_contrasts(sets, frames, [m.column]), [m], next(iter(sets)))
        if ensembles and m is not None else "", dependencies=[key, m])
    if m is None:
        solara.Warning("These tables share no headline metric.")
        return
    by_label = {x.label: x.column for x in metrics}
    solara.Select("Metric", values=list(by_label), value=m.label, on_value=lambda lab: metric.set(by_label[lab]))
    solara.Text(f"Unit: {m.unit}")
    solara.Image(png, width="100%")
    first = next(iter(sets))
    with solara.Details(f"{m.label}: values and differences from {first} at milestone years", expand=True):
        solara.HTML(unsafe_innerHTML=differences_html(frames, [m]), classes=["fs-tables"])
    if ensembles:
        with solara.Details(f"{m.label}: ensembles' differences beyond the noise of the seeds (95% intervals)",
                            expand=True):
            solara.HTML(unsafe_innerHTML=noise, classes=["fs-tables"])


ABOUT = """
<p><b>frontiersim</b> simulates the AI industry month by month: labs, startups, chip suppliers and
power grids competing for compute, data and energy. The measures shown here:</p>
<ul>
<li><b>ece</b> (effective compute): the log10 of the training FLOP a compute-optimal run would need
to reach a model's loss. One unit is a factor of 10. <b>score</b> maps loss to a benchmark-like
0.25 (chance) to 1.</li>
<li><b>Meek gap</b>: the frontier's ece minus that of a trainer with a fixed small budget using public
algorithms (Gundlach, Lynch &amp; Thompson, arXiv 2507.07931).</li>
<li><b>HHI</b>: the sum of squared market shares in percent (10,000 for a monopoly); 1,500 and 2,500
bound the US merger guidelines' moderately and highly concentrated markets. <b>CR4</b>: the share of
the four largest firms.</li>
<li>Compute is counted in H100-equivalents (H100e); <b>stranded</b> chips are bought but unpowered.</li>
</ul>
<p>A run made here is the run <code>frontiersim run SCENARIO --seed N --set KEY=VALUE ...</code>
makes: the same scenario, overrides and seed give the same tables. An ensemble opened here is shown
as the median across its runs inside a 5-95% band. The model is described in docs/ODD.md, every
output column in docs/OUTPUTS.md and how to read the figures in docs/READING.md.</p>
"""


def open_at_start() -> None:
    """Open the directories ``frontiersim dashboard DIR ...`` named, once per session."""
    if opened_at_start.value:
        return
    opened_at_start.set(True)
    for path in json.loads(os.environ.get(OPEN_ENV, "[]") or "[]"):
        open_directory(path)


@solara.component
def Page() -> None:
    solara.Style(CSS)
    solara.Title("frontiersim dashboard")
    solara.use_effect(open_at_start, [])
    with solara.Column(style={"padding": "12px"}):
        solara.HTML(tag="h2", unsafe_innerHTML="frontiersim: the AI industry, month by month",
                    style="margin:0 0 4px 0;font-weight:500")
        with solara.Columns([1, 3], gutters_dense=True):
            with solara.Column():
                RunPanel()
                OpenPanel()
            with solara.Column():
                with solara.lab.Tabs():
                    with solara.lab.Tab("Results"):
                        ResultsTab()
                    with solara.lab.Tab("Compare"):
                        CompareTab()
                    with solara.lab.Tab("About"):
                        solara.HTML(unsafe_innerHTML=ABOUT)
