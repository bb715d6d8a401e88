"""A bad scenario gives one clear line on stderr (file, field path, what was expected), exit
status 2, and writes nothing. Every case goes through the command line (``sim.cli.main``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sim.cli import main


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def run_cli(capsys, tmp_path: Path, *args: str) -> tuple[str, Path]:
    """Run ``frontiersim run ARGS --out OUT`` on a 3-month horizon; expect exit 2, one stderr
    line and no output directory. Returns the error line and the --out path."""
    out = tmp_path / "out"
    rc = main(["run", *args, "--end", "2024-03", "--out", str(out)])
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert rc == 2, cap.err
    assert len(lines) == 1, f"expected one line on stderr, got:\n{cap.err}"
    assert lines[0].startswith("frontiersim: error: ")
    assert "Traceback" not in cap.err and cap.out == ""
    assert not out.exists(), "a failed run must not create its output directory"
    assert not any(p.name.startswith(".out") for p in tmp_path.iterdir()), "no temporary output left behind"
    return lines[0], out


def check_error(capsys, *argv: str) -> str:
    """The error of ``frontiersim scenarios check ARGV``, which must exit 2 with one stderr line and
    no output, without its 'frontiersim: error: ' prefix."""
    assert main(["scenarios", "check", *argv]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1 and cap.err.startswith("frontiersim: error: "), cap.err
    return cap.err.removeprefix("frontiersim: error: ").rstrip("\n")


# ----- files ---------------------------------------------------------------------------------
def test_unknown_field(capsys, tmp_path):
    f = write(tmp_path, "typo.toml", 'extends = "baseline"\n[data]\npublic_tokenz = 1e14\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert str(f) in msg
    assert "data.public_tokenz: unknown field" in msg
    assert "did you mean 'public_tokens'" in msg and "expected a field of data" in msg


def test_unknown_top_level_field(capsys, tmp_path):
    f = write(tmp_path, "top.toml", 'extends = "baseline"\nhorizon = "2030-12"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: horizon: unknown field" in msg and "expected a field of the top level" in msg


def test_wrong_type(capsys, tmp_path):
    f = write(tmp_path, "type.toml", 'extends = "baseline"\n[data]\npublic_tokens = "lots"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: data.public_tokens: expected a number (got 'lots')" in msg


def test_wrong_type_in_a_lab(capsys, tmp_path):
    f = write(tmp_path, "labtype.toml", 'extends = "baseline"\n[labs.hyper_a]\nopen_weights = "sometimes"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: labs.hyper_a.open_weights: expected true or false" in msg


def test_section_must_be_a_table(capsys, tmp_path):
    f = write(tmp_path, "scalar.toml", 'extends = "baseline"\ndata = 5\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: data: expected a table" in msg


def test_out_of_range(capsys, tmp_path):
    f = write(tmp_path, "range.toml", 'extends = "baseline"\n[data]\nopt_out_share = 1.5\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: data.opt_out_share: expected a value <= 1" in msg and "(got 1.5)" in msg


def test_negative_fleet(capsys, tmp_path):
    f = write(tmp_path, "neg.toml", 'extends = "baseline"\n[labs.hyper_a]\nfleet_h100e = -5\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: labs.hyper_a.fleet_h100e: expected a value >= 0" in msg


def test_unknown_literal(capsys, tmp_path):
    f = write(tmp_path, "law.toml", 'extends = "baseline"\n[scaling]\nlaw = "chinchilla"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: scaling.law: expected one of 'besiroglu', 'hoffmann' or 'collapsed' (got 'chinchilla')" in msg


def test_unknown_region_reference(capsys, tmp_path):
    f = write(tmp_path, "mars.toml", 'extends = "baseline"\n[labs.hyper_a]\nregion = "mars"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: labs.hyper_a.region: 'mars' is not a grid region; expected one of" in msg


def test_error_in_parent_names_the_parent(capsys, tmp_path):
    """A bad value inherited from a parent is reported in the parent's file."""
    parent = write(tmp_path, "parent.toml", 'extends = "baseline"\n[finance]\nsentiment_start = -1\n')
    child = write(tmp_path, "child.toml", 'extends = "parent.toml"\n[data]\npublic_tokens = 1e14\n')
    msg, _ = run_cli(capsys, tmp_path, str(child))
    assert f"{parent}: finance.sentiment_start: expected a value > 0" in msg


def test_missing_parent(capsys, tmp_path):
    f = write(tmp_path, "orphan.toml", 'extends = "baselin"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: extends: baselin: no such scenario (did you mean 'baseline'?)" in msg
    assert "expected one of backcast, baseline" in msg and "or a path to a .toml file" in msg


def test_missing_parent_file(capsys, tmp_path):
    f = write(tmp_path, "orphan2.toml", 'extends = "nowhere/parent.toml"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: extends: parent file {tmp_path / 'nowhere' / 'parent.toml'} not found" in msg


def test_extends_must_be_a_string(capsys, tmp_path):
    f = write(tmp_path, "ext.toml", "extends = 3\n")
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: extends: expected a scenario name or a path to a .toml file (got 3)" in msg


def test_cycle_of_extends(capsys, tmp_path):
    a = write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    b = write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    msg, _ = run_cli(capsys, tmp_path, str(a))
    assert f"{b}: extends: cycle of scenarios (a.toml -> b.toml -> a.toml)" in msg


def test_self_extends(capsys, tmp_path):
    a = write(tmp_path, "self.toml", 'extends = "self.toml"\n')
    msg, _ = run_cli(capsys, tmp_path, str(a))
    assert "extends: cycle of scenarios (self.toml -> self.toml)" in msg


def test_event_outside_horizon(capsys, tmp_path):
    f = write(tmp_path, "late.toml", 'extends = "baseline"\n[[events]]\nmonth = "2050-01"\nkind = "compute_cap"\nvalue = 1e27\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: events.0.month: 2050-01 is outside the horizon 2024-01..2024-03" in msg
    assert msg.endswith("; end set by --end 2024-03")  # the run's --end shortened the horizon


def test_event_outside_horizon_set_in_file(capsys, tmp_path):
    f = write(tmp_path, "late2.toml", 'extends = "baseline"\nend = "2030-12"\n[[events]]\nmonth = "2031-01"\nkind = "sentiment_crash"\nvalue = 0.5\n')
    rc = main(["scenarios", "check", str(f)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert f"{f}: events.0.month: 2031-01 is outside the horizon 2024-01..2030-12" in err


def test_horizon_note_is_only_for_a_month_outside_the_horizon(capsys, tmp_path):
    """Which override moved the horizon is added to an event month outside it, not to another
    error whose text happens to read like one (here a region the user named so)."""
    f = write(tmp_path, "reg.toml", 'extends = "baseline"\n[[events]]\nmonth = "2024-02"\nkind = "compute_cap"\n'
                                    'region = "outside the horizon"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))  # (run_cli's --end 2024-03 is an override of end)
    assert msg == f"frontiersim: error: {f}: events.0.region: unknown region 'outside the horizon'"


def test_end_after_the_last_month(capsys, tmp_path):
    """A scenario may end in 2100-12 at the latest (docs/ODD.md 2.1), set in a file or by --set."""
    f = write(tmp_path, "long.toml", 'extends = "baseline"\nend = "2101-01"\n')
    assert main(["scenarios", "check", str(f)]) == 2
    assert capsys.readouterr().err == f"frontiersim: error: {f}: end: expected a month from start 2024-01 to 2100-12, got '2101-01'\n"
    assert main(["scenarios", "check", "baseline", "--set", "end=9999-12"]) == 2
    assert capsys.readouterr().err.endswith(": --set end=9999-12: end: expected a month from start 2024-01 to 2100-12, "
                                            "got '9999-12'\n")


def test_end_before_start_names_the_end_and_the_option_that_set_either(capsys, tmp_path):
    """An end before the start is an error of the field 'end' (it read '(top level): end ... is before
    start ...'), in the words of the other end errors, with the --set, --start or --end behind it,
    named as the user typed it (--end and --start read '--set end=', '--set start=')."""
    def err(*argv: str) -> str:
        e = check_error(capsys, *argv)
        assert "(top level)" not in e
        return e

    f = write(tmp_path, "short.toml", 'extends = "baseline"\nstart = "2030-01"\nend = "2029-06"\n')
    assert err(str(f)) == f"{f}: end: expected a month from start 2030-01 to 2100-12, got '2029-06'"
    b = tmp_path / "b.toml"  # (baseline's own end, 2040-12, set in a file the user did not write)
    b.write_text('extends = "baseline"\n')
    base = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "baseline.toml"
    for option in (["--end", "2023-12"], ["--set", "end=2023-12"]):
        assert err(str(b), *option) == (f"{b}: {' '.join(option)}: end: expected a month from start 2024-01 to "
                                        "2100-12, got '2023-12'")
    for option in (["--start", "2041-01"], ["--set", "start=2041-01"]):
        assert err(str(b), *option) == (f"{base}: end: expected a month from start 2041-01 to 2100-12, got '2040-12'; "
                                        f"start set by {' '.join(option)}")
    assert err(str(b), "--set", "start=2030-01", "--end", "2029-12") == (
        f"{b}: --end 2029-12: end: expected a month from start 2030-01 to 2100-12, got '2029-12'; "
        "start set by --set start=2030-01")
    assert err(str(b), "--start", "2030-01", "--set", "end=2029-12") == (
        f"{b}: --set end=2029-12: end: expected a month from start 2030-01 to 2100-12, got '2029-12'; "
        "start set by --start 2030-01")


def test_start_outside_the_first_and_last_months(capsys, tmp_path):
    """A scenario may start in 2020-01 at the earliest (docs/ODD.md 2.1), set in a file or by --set;
    it could not end by 2100-12 if it started later (the start, not the end, is then named)."""
    f = write(tmp_path, "early.toml", 'extends = "baseline"\nstart = "0001-01"\n')
    assert check_error(capsys, str(f)) == f"{f}: start: expected a month from 2020-01 to 2100-12, got '0001-01'"
    assert check_error(capsys, "baseline", "--set", "start=2019-12").endswith(
        ": --set start=2019-12: start: expected a month from 2020-01 to 2100-12, got '2019-12'")
    f = write(tmp_path, "late.toml", 'extends = "baseline"\nstart = "2101-01"\nend = "2101-06"\n')
    assert check_error(capsys, str(f)) == (f"{f}: start: expected a month from 2020-01 to 2100-12, got '2101-01' "
                                           "[+1 more problem]")
    assert main(["scenarios", "check", "backcast"]) == 0  # (the earliest shipped start, 2020-01)
    assert "backcast, 2020-01..2025-12" in capsys.readouterr().out


def test_bad_event_month_and_kind(capsys, tmp_path):
    f = write(tmp_path, "evm.toml", 'extends = "baseline"\n[[events]]\nmonth = "2025-13"\nkind = "compute_cap"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: events.0.month: expected a month as YYYY-MM, got '2025-13'" in msg
    f = write(tmp_path, "evk.toml", 'extends = "baseline"\n[[events]]\nmonth = "2024-02"\nkind = "asteroid"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: events.0.kind: expected one of 'export_control'" in msg and "(got 'asteroid')" in msg


def test_event_names_unknown_supplier(capsys, tmp_path):
    f = write(tmp_path, "evs.toml", 'extends = "baseline"\n[[events]]\nmonth = "2024-02"\nkind = "export_control"\nsupplier = "nvidia"\nregion = "china"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: events.0.supplier: unknown supplier 'nvidia'" in msg


def test_invalid_toml(capsys, tmp_path):
    f = write(tmp_path, "broken.toml", 'extends = "baseline\n[data\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: not valid TOML: " in msg and "line 1" in msg


def test_not_utf8(capsys, tmp_path):
    f = write(tmp_path, "latin1.toml", b'name = "caf\xe9"\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: not valid TOML: not UTF-8 text" in msg


def test_missing_file(capsys, tmp_path):
    msg, _ = run_cli(capsys, tmp_path, str(tmp_path / "nope.toml"))
    assert f"{tmp_path / 'nope.toml'}: file not found; expected a .toml scenario file" in msg


def test_directory_instead_of_file(capsys, tmp_path):
    d = tmp_path / "dir.toml"
    d.mkdir()
    msg, _ = run_cli(capsys, tmp_path, str(d))
    assert f"{d}: is a directory; expected a .toml scenario file" in msg


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(capsys, tmp_path):
    f = write(tmp_path, "secret.toml", 'extends = "baseline"\n')
    f.chmod(0)
    try:
        msg, _ = run_cli(capsys, tmp_path, str(f))
    finally:
        f.chmod(0o644)
    assert f"{f}: cannot read the file (permission denied)" in msg


def test_unknown_scenario_name(capsys, tmp_path):
    msg, _ = run_cli(capsys, tmp_path, "basline")
    assert "basline: no such scenario (did you mean 'baseline'?)" in msg
    assert "expected one of backcast, baseline, " in msg and "data-wall" in msg


# ----- overrides -------------------------------------------------------------------------------
def test_unknown_override_key(capsys, tmp_path):
    msg, _ = run_cli(capsys, tmp_path, "baseline", "--set", "data.public_tokenz=1e14")
    assert "baseline.toml: --set data.public_tokenz=1e14: unknown field 'data.public_tokenz'" in msg
    assert "did you mean 'public_tokens'" in msg


def test_override_unknown_grid(capsys, tmp_path):
    """--set cannot create a grid (or lab, or supplier) by mistyping its id."""
    msg, _ = run_cli(capsys, tmp_path, "baseline", "--set", "grids.us_eats.buildout_mw_per_year=500")
    assert "--set grids.us_eats.buildout_mw_per_year=500: unknown grid 'us_eats' in grids (did you mean 'us_east'?)" in msg


def test_override_missing_event(capsys, tmp_path):
    msg, _ = run_cli(capsys, tmp_path, "baseline", "--set", "events.0.value=1")
    assert "--set events.0.value=1: no entry '0' in events" in msg and "the scenario has no events" in msg


def test_override_wrong_type(capsys, tmp_path):
    msg, _ = run_cli(capsys, tmp_path, "baseline", "--set", "data.public_tokens=lots")
    assert "baseline.toml: --set data.public_tokens=lots: data.public_tokens: expected a number (got 'lots')" in msg


def test_override_out_of_range(capsys, tmp_path):
    msg, _ = run_cli(capsys, tmp_path, "baseline", "--set", "grids.us_east.buildout_mw_per_year=-500")
    assert "--set grids.us_east.buildout_mw_per_year=-500: grids.us_east.buildout_mw_per_year: expected a value >= 0" in msg


def test_override_a_table_or_through_a_value(capsys, tmp_path):
    msg, _ = run_cli(capsys, tmp_path, "baseline", "--set", "data=1")
    assert "--set data=1: 'data' is a table; expected a field inside it, e.g. data.public_tokens" in msg
    msg, _ = run_cli(capsys, tmp_path, "baseline", "--set", "data.public_tokens.x=1")
    assert "'data.public_tokens' is a value, not a table" in msg


def test_override_syntax(capsys, tmp_path):
    msg, _ = run_cli(capsys, tmp_path, "baseline", "--set", "data.public_tokens")
    assert "--set data.public_tokens: expected dotted.key=value" in msg


def test_override_extends(capsys, tmp_path):
    msg, _ = run_cli(capsys, tmp_path, "baseline", "--set", "extends=meek-limit")
    assert "'extends' cannot be overridden" in msg


def test_named_scenario_event_before_shortened_end(capsys, tmp_path):
    """Shortening a named scenario's horizon below its events is reported, not silently dropped."""
    msg, _ = run_cli(capsys, tmp_path, "export-controls")
    assert "export-controls.toml: events.0.month: 2025-01 is outside the horizon 2024-01..2024-03" in msg


# ----- the scenarios subcommand ----------------------------------------------------------------
@pytest.mark.parametrize("action", ["show", "check"])
def test_scenarios_subcommand_errors(capsys, tmp_path, action):
    f = write(tmp_path, "typo.toml", 'extends = "baseline"\n[power]\nprice_knee = 0.9\n')
    rc = main(["scenarios", action, str(f)])
    cap = capsys.readouterr()
    assert rc == 2 and cap.out == "" and len(cap.err.strip().splitlines()) == 1
    assert f"{f}: power.price_knee: unknown field (did you mean 'price_knee_utilization'?)" in cap.err
    rc = main(["scenarios", action, "baseline", "--set", "power.price_knee=0.9"])
    cap = capsys.readouterr()
    assert rc == 2 and "--set power.price_knee=0.9: unknown field 'power.price_knee'" in cap.err


def test_scenarios_show_needs_a_target(capsys):
    assert main(["scenarios", "show"]) == 2
    assert "scenarios show: expected a scenario name or .toml file" in capsys.readouterr().err


def test_check_builds_the_initial_state(capsys):
    """Problems only visible when the model is set up (a grid smaller than the load committed at
    the start) are reported by 'scenarios check' as one line."""
    rc = main(["scenarios", "check", "baseline", "--set", "grids.us_east.capacity_mw=100"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "baseline.toml: --set grids.us_east.capacity_mw: 100 MW is below the" in err


def test_a_set_up_problem_in_a_file_names_the_file_and_field_without_set(capsys, tmp_path):
    f = write(tmp_path, "small.toml", 'extends = "baseline"\n[grids.us_east]\ncapacity_mw = 100\n')
    assert main(["scenarios", "check", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}: grids.us_east.capacity_mw: 100 MW is below the" in err and "--set" not in err


# ----- non-finite numbers and true/false taken for numbers ------------------------------------
@pytest.mark.parametrize("value", ["inf", "-inf", "1e400", "nan"])
def test_non_finite_override_is_refused(capsys, tmp_path, value):
    msg, _ = run_cli(capsys, tmp_path, "baseline", "--set", f"grids.us_east.buildout_mw_per_year={value}")
    assert f"--set grids.us_east.buildout_mw_per_year={value}: grids.us_east.buildout_mw_per_year: " \
           "expected a finite number" in msg


def test_non_finite_value_in_a_file_and_in_scenarios_show(capsys, tmp_path):
    f = write(tmp_path, "inf.toml", 'extends = "baseline"\n[data]\npublic_tokens = inf\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: data.public_tokens: expected a finite number (got inf)" in msg
    assert main(["scenarios", "show", "baseline", "--json", "--set", "data.public_tokens=inf"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "data.public_tokens: expected a finite number" in cap.err


@pytest.mark.parametrize("section, line, expected", [
    ("startups", "initial = true", "startups.initial: expected an integer, not true"),
    ("data", "public_tokens = false", "data.public_tokens: expected a number, not false"),
    ("data", "synthetic_enabled = 1", "data.synthetic_enabled: expected true or false, not the number 1"),
    ("data", "synthetic_enabled = 0.0", "data.synthetic_enabled: expected true or false, not the number 0.0"),
])
def test_true_false_and_numbers_are_not_interchangeable(capsys, tmp_path, section, line, expected):
    f = write(tmp_path, "mixed.toml", f'extends = "baseline"\n[{section}]\n{line}\n')
    msg, _ = run_cli(capsys, tmp_path, str(f))
    assert f"{f}: {expected}" in msg
    assert main(["scenarios", "check", str(f)]) == 2  # 'check' no longer calls such a file ok
    assert expected in capsys.readouterr().err
    key, value = line.split(" = ")
    msg, _ = run_cli(capsys, tmp_path, "baseline", "--set", f"{section}.{key}={value}")
    assert f"--set {section}.{key}={value}: {expected}" in msg


def test_set_true_false_and_numbers_still_work(capsys):
    from scenarios.loader import load_scenario

    sc, _ = load_scenario("baseline", ["data.synthetic_enabled=false", "startups.initial=12", "data.public_tokens=2e14",
                                       "data.opt_out_share=0"])
    assert sc.data.synthetic_enabled is False and sc.startups.initial == 12
    assert sc.data.public_tokens == 2e14 and sc.data.opt_out_share == 0.0


def test_a_start_assigned_after_the_end_is_checked_against_it():
    """Scenario validates assignments: a start moved past the end is the same error of 'end'."""
    from pydantic import ValidationError

    from scenarios.loader import load_scenario

    sc, _ = load_scenario("baseline")
    with pytest.raises(ValidationError, match=r"end: expected a month from start 2041-01 to 2100-12, got '2040-12'"):
        sc.start = "2041-01"


@pytest.mark.parametrize("field, value", [("start", "2041-01"), ("grids", {}), ("events", [{"month": "2050-01",
                                          "kind": "sentiment_crash", "value": 0.5}])])
def test_a_rejected_assignment_leaves_the_scenario_as_it_was(field, value):
    """An assignment the whole-scenario checks reject (the start after the end, labs without their
    grids, an event outside the horizon) is an error and changes nothing: the scenario stays valid
    and usable (pydantic kept the rejected value)."""
    from pydantic import ValidationError

    from scenarios.loader import load_scenario

    sc, _ = load_scenario("baseline")
    before, fields_set = sc.model_dump(), set(sc.model_fields_set)
    with pytest.raises(ValidationError):
        setattr(sc, field, value)
    assert sc.model_dump() == before and sc.model_fields_set == fields_set
    sc.end = "2030-12"  # (checked against the start it still has)
    assert (sc.start, sc.end) == ("2024-01", "2030-12")


# -----------------------------------------------------------------------------------------
# assignments to a scenario's sections, from Python
# -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, value, expected", [
    ("labs.hyper_a.region", "nowhere",
     "labs.hyper_a.region: 'nowhere' is not a grid region; expected one of ['china', 'europe', 'us_central', 'us_east', 'us_west']"),
    ("labs.hyper_a.supplier_partner", "acme", "labs.hyper_a.supplier_partner: unknown supplier 'acme'"),
    ("suppliers.domestic.sells_to", ["mars"], "suppliers.domestic.sells_to: 'mars' is not a grid region"),
    ("data.public_tokens", -1, "data.public_tokens: expected a value > 0.0 (got -1)"),
    ("labs.hyper_a.regoin", "europe", "labs.hyper_a.regoin: unknown field (did you mean 'region'?); expected a field "
     "of labs.hyper_a: archetype, funding, region,"),
])
def test_an_assignment_to_a_section_is_checked_as_the_same_change_in_a_file(path, value, expected):
    """``sc.labs["hyper_a"].region = "nowhere"`` is rejected as ``--set labs.hyper_a.region=nowhere``
    is: the section's scenario runs its whole-scenario checks. The error is one line naming the
    field path and what was expected (a pydantic ValidationError, as for any assignment), and the
    scenario is left as it was."""
    from pydantic import ValidationError

    from scenarios.loader import ScenarioError, load_scenario
    from scenarios.schema import AssignmentError

    sc, _ = load_scenario("baseline")
    before = sc.model_dump()
    *parts, field = path.split(".")
    section = sc.labs[parts[1]] if parts[0] == "labs" else sc.suppliers[parts[1]] if parts[0] == "suppliers" else getattr(sc, parts[0])
    with pytest.raises(ValidationError) as e:
        setattr(section, field, value)
    assert isinstance(e.value, AssignmentError) and str(e.value).startswith(expected) and "\n" not in str(e.value)
    assert sc.model_dump() == before
    if field != "regoin":  # the same change from the command line is the same problem
        with pytest.raises(ScenarioError) as e2:
            load_scenario("baseline", {path: value})
        assert str(e2.value).endswith(": " + expected)


def test_an_assignment_to_an_event_or_the_top_level_is_one_line():
    from pydantic import ValidationError

    from scenarios.loader import load_scenario

    sc, _ = load_scenario("compute-cap")
    with pytest.raises(ValidationError) as e:
        sc.events[0].month = "2099-01"
    assert str(e.value) == "events.0.month: 2099-01 is outside the horizon 2024-01..2040-12"
    with pytest.raises(ValidationError) as e:
        sc.start = "2041-01"
    assert str(e.value) == "end: expected a month from start 2041-01 to 2100-12, got '2040-12'"
    from scenarios.schema import DataParams

    with pytest.raises(ValidationError) as e:  # (a section of no scenario: named by its class)
        DataParams().public_tokens = 0
    assert str(e.value) == "DataParams.public_tokens: expected a value > 0.0 (got 0)"


@pytest.mark.parametrize("how", ["deep copy", "shallow copy", "pickle"])
def test_copies_of_a_scenario_check_assignments_to_their_sections(how):
    import copy
    import pickle

    from pydantic import ValidationError

    from scenarios.loader import load_scenario

    sc, _ = load_scenario("baseline")
    other = {"deep copy": lambda: sc.model_copy(deep=True), "shallow copy": lambda: copy.copy(sc),
             "pickle": lambda: pickle.loads(pickle.dumps(sc))}[how]()
    assert other == sc
    with pytest.raises(ValidationError, match=r"^labs\.hyper_a\.region: 'nowhere' is not a grid region"):
        other.labs["hyper_a"].region = "nowhere"
    assert other.labs["hyper_a"].region == sc.labs["hyper_a"].region == "us_central"
    other.labs["hyper_a"].region = "europe"  # (a valid assignment is kept)
    assert other.labs["hyper_a"].region == "europe"


def _change_in_place(sc, change: str) -> str:
    """Make ``change`` to the scenario object ``sc`` in place, as no assignment check sees it;
    returns the one-line error it must give (after the scenario's name)."""
    from scenarios.schema import LabParams

    if change == "grid deleted":
        del sc.grids["us_central"]
        return "labs.hyper_a.region: 'us_central' is not a grid region; expected one of ['china', 'europe', 'us_east', 'us_west']"
    if change == "lab added":
        sc.labs["new"] = LabParams(region="mars")
        return "labs.new.region: 'mars' is not a grid region; expected one of ['china', 'europe', 'us_central', 'us_east', 'us_west']"
    if change == "lab replaced":
        sc.labs["hyper_a"] = LabParams(region="us_east", supplier_partner="acme")
        return "labs.hyper_a.supplier_partner: unknown supplier 'acme'"
    if change == "region appended":
        sc.suppliers["incumbent"].sells_to.append("mars")
        return "suppliers.incumbent.sells_to: 'mars' is not a grid region"
    assert change == "lab appended", change
    sc.suppliers["custom_asic"].exclusive_to.append("nobody")
    return "suppliers.custom_asic.exclusive_to: 'nobody' is not a lab"


@pytest.mark.parametrize("change", ["grid deleted", "lab added", "lab replaced"])
def test_a_changed_scenario_object_is_checked_again_before_the_run(monkeypatch, change):
    """Changes no assignment check sees (a table's entries added or deleted) are the same one-line
    error when the scenario object is run, before any simulation work."""
    import sim.model
    from scenarios.loader import ScenarioError, load_scenario
    from sim.run import resolve_scenario, run_scenario

    def no_work(*a, **k):
        raise AssertionError("the model was built")

    monkeypatch.setattr(sim.model.IndustryModel, "__init__", no_work)
    sc, _ = load_scenario("baseline")
    expected = _change_in_place(sc, change)
    with pytest.raises(ScenarioError) as e:
        run_scenario(sc, end="2024-02")
    assert str(e.value) == f"scenario object 'baseline': {expected}"
    with pytest.raises(ScenarioError):
        resolve_scenario(sc)


@pytest.mark.parametrize("change", ["grid deleted", "lab added", "region appended", "lab appended"])
@pytest.mark.parametrize("entry", ["run_model", "IndustryModel"])
def test_a_changed_scenario_object_run_directly_is_the_same_one_line_error_before_any_work(monkeypatch, change, entry):
    """``sim.run.run_model`` and ``IndustryModel`` check the scenario again as a whole too: a change
    made in place (a table's entry added or deleted, an item appended to a section's list) that no
    assignment check sees is a one-line ScenarioError before the model's set-up, not a KeyError
    deep in it or a run on a scenario a file could not hold."""
    import sim.model
    from scenarios.loader import ScenarioError, load_scenario
    from sim.run import run_model

    def no_work(*a, **k):
        raise AssertionError("the model was set up")

    monkeypatch.setattr(sim.model.IndustryModel, "_init_market", no_work)
    sc, _ = load_scenario("baseline")
    sc.end = "2024-02"
    expected = _change_in_place(sc, change)
    with pytest.raises(ScenarioError) as e:
        run_model(sc) if entry == "run_model" else sim.model.IndustryModel(sc)
    assert str(e.value) == f"scenario object 'baseline': {expected}"
    assert "\n" not in str(e.value)


def test_a_run_checks_its_scenario_once_and_runs_on_the_checked_copy(monkeypatch):
    """Each run checks its scenario once (:func:`scenarios.loader.check_scenario`, in the model's
    set-up), also when it comes through ``run_scenario``, which resolved it first; the model
    runs on the checked copy, equal to the scenario it was given."""
    import scenarios.loader
    from scenarios.loader import load_scenario
    from sim.run import run_model, run_scenario

    calls = []
    check = scenarios.loader.check_scenario
    monkeypatch.setattr(scenarios.loader, "check_scenario", lambda sc, *a: calls.append(sc) or check(sc, *a))
    sc, _ = load_scenario("baseline")
    sc.end = "2024-02"
    m = run_model(sc, record_agents=False)
    assert len(calls) == 1 and m.sc == sc and m.sc is not sc
    run_scenario(sc, tables=("model",))
    assert len(calls) == 2


# -----------------------------------------------------------------------------------------
# overrides from Python are named as passed
# -----------------------------------------------------------------------------------------
def test_python_overrides_are_named_as_passed_and_the_command_line_s_as_set():
    from scenarios.loader import ScenarioError, load_scenario, scenario_path
    from sim.run import resolve_scenario

    path = scenario_path("baseline")
    problem = "data.public_tokens: expected a value > 0.0 (got -1)"
    for overrides, from_cli, option in [
        ({"data.public_tokens": -1}, False, "overrides['data.public_tokens']=-1"),
        (["data.public_tokens=-1"], False, "override 'data.public_tokens=-1'"),
        (["data.public_tokens=-1"], True, "--set data.public_tokens=-1"),
        ({"data.public_tokens": -1}, True, "--set data.public_tokens=-1"),
    ]:
        with pytest.raises(ScenarioError) as e:
            resolve_scenario("baseline", overrides, from_cli=from_cli)
        assert str(e.value) == f"{path}: {option}: {problem}"
    sc, _ = load_scenario("baseline")
    with pytest.raises(ScenarioError) as e:
        resolve_scenario(sc, {"labs.hyper_a.region": "nowhere"})
    assert str(e.value) == ("scenario object 'baseline': overrides['labs.hyper_a.region']='nowhere': labs.hyper_a.region: "
                            "'nowhere' is not a grid region; expected one of ['china', 'europe', 'us_central', 'us_east', 'us_west']")
    with pytest.raises(ScenarioError) as e:
        resolve_scenario("baseline", {"data.public_tokenz": 1e14})
    assert str(e.value).startswith(f"{path}: overrides['data.public_tokenz']=100000000000000.0: unknown field 'data.public_tokenz'")
    with pytest.raises(ScenarioError) as e:
        resolve_scenario("baseline", ["data.public_tokens"])
    assert str(e.value) == ("override 'data.public_tokens': expected 'dotted.key=value', "
                            "e.g. 'grids.us_east.buildout_mw_per_year=500'")
    with pytest.raises(ScenarioError) as e:
        resolve_scenario("baseline", ["data.public_tokens"], from_cli=True)
    assert str(e.value).startswith("--set data.public_tokens: expected dotted.key=value")
