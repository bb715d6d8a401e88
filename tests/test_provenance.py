"""Parameter provenance in docs/ODD.md: complete, current, and citing real calibration keys.

The calibration CSV lives outside the repository (``../shared/calibration``); checks that need it
are skipped when it is absent, so the project still tests on its own.
"""

from __future__ import annotations

import fnmatch
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from scenarios import provenance as P
from scenarios.schema import Scenario

REPO = Path(__file__).resolve().parents[1]
ODD = REPO / "docs" / "ODD.md"
CSV = REPO / ".." / "shared" / "calibration" / "calibration_facts.csv"
NO_CSV = f"calibration CSV not found at {CSV} (../shared is not beside the repository)"


def _odd_text() -> str:
    return ODD.read_text(encoding="utf-8")


def _odd_params() -> dict[str, list[str]]:
    """Rows of the parameter table in ODD.md by parameter path."""
    rows = P.parse_table(P.between(_odd_text()))
    assert rows, "the provenance table in docs/ODD.md is empty"
    return {r[0]: r for r in rows}


def _schema_leaf_paths(model: type[BaseModel] = Scenario, prefix: str = "") -> list[str]:
    """Every leaf field of the schema, walked independently of scenarios.provenance."""
    out = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        args = typing.get_args(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _schema_leaf_paths(ann, f"{prefix}{name}.")
        elif typing.get_origin(ann) in (dict, list) and args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
            out += _schema_leaf_paths(args[-1], f"{prefix}{name}.*.")
        else:
            out.append(f"{prefix}{name}")
    return out


def _calibration_keys_in_odd() -> list[str]:
    rows = P.parse_table(P.between(_odd_text(), P.CAL_START_MARK, P.CAL_END_MARK))
    return [r[0] for r in rows]


def test_every_schema_field_is_in_the_odd_table_with_unit_and_source():
    table = _odd_params()
    paths = _schema_leaf_paths()
    assert len(paths) > 100  # sanity: the walk found the sections and per-entity tables
    missing = [p for p in paths if p not in table]
    assert not missing, f"schema fields missing from docs/ODD.md section 8: {missing}"
    header = list(P.COLUMNS)
    for p in paths:
        row = dict(zip(header, table[p]))
        assert row["unit"].strip(), f"{p}: empty unit"
        assert row["source"].strip(), f"{p}: empty source"
        assert row["confidence"] in ("sourced", "derived", "assumption", "calibrated"), f"{p}: bad confidence {row['confidence']!r}"
    assert set(table) == set(paths), f"rows for fields that no longer exist: {sorted(set(table) - set(paths))}"


def test_schema_declares_unit_and_source_for_every_field():
    for r in P.provenance_rows():
        assert r.unit, f"{r.parameter}: P(...) without a unit"
        assert r.source, f"{r.parameter}: P(...) without a source"


def test_odd_table_equals_generator_output():
    assert P.between(_odd_text()) == P.render_markdown().strip(), (
        "docs/ODD.md section 8 is stale; run: python -m scenarios.provenance --write")


def test_confidence_rule():
    assert P.confidence("[h100_price]") == "sourced"
    assert P.confidence("[chinchilla_besiroglu_*]; Hoffmann 2022 selectable") == "sourced"
    assert P.confidence("derived from [cowos_capacity_end_2024] (~15 H100e/wafer)") == "derived"
    assert P.confidence("assumption from [ai_dc_servers_share_of_tco]") == "assumption"
    assert P.confidence("MODEL.md 4.1 default") == "assumption"
    assert P.confidence("-") == "assumption"


def test_markdown_cells_round_trip():
    row = P.ProvenanceRow("a.*.b", "x | y", "1", "[0, 1]", "[k_*] a|b", "sourced", "")
    parsed = P.parse_table(P.render_markdown([row]))
    assert parsed == [["a.*.b", "x | y", "1", "[0, 1]", "[k_*] a|b", "sourced"]]


def test_cited_keys_are_in_the_odd_calibration_table():
    """The document stands alone: every key a source or the text cites is copied into section 9."""
    known = _calibration_keys_in_odd()
    cited = P.keys_cited_in_schema() + P.keys_cited_in_text(_odd_text())
    missing = [k for k in cited if not (fnmatch.filter(known, k) if "*" in k else k in known)]
    assert not missing, f"keys cited but not in docs/ODD.md section 9: {missing}"


def test_cited_keys_exist_in_calibration_csv():
    if not CSV.exists():
        pytest.skip(NO_CSV)
    facts = P.read_calibration(CSV)
    bad = []
    for r in P.provenance_rows():
        for k in P.cited_keys(r.source):
            if not (fnmatch.filter(list(facts), k) if "*" in k else k in facts):
                bad.append(f"{r.parameter}: [{k}]")
    for k in P.keys_cited_in_text(_odd_text()):
        if not (fnmatch.filter(list(facts), k) if "*" in k else k in facts):
            bad.append(f"docs/ODD.md text: [{k}]")
    assert not bad, f"calibration keys not in {CSV.name}: {bad}"


def test_odd_calibration_table_matches_csv():
    if not CSV.exists():
        pytest.skip(NO_CSV)
    assert P.between(_odd_text(), P.CAL_START_MARK, P.CAL_END_MARK) == P.calibration_markdown(_odd_text(), CSV).strip(), (
        "docs/ODD.md section 9 differs from the calibration CSV; run: python -m scenarios.provenance --write")


@pytest.mark.parametrize("argv, problem", [
    (["--write", "--bogus"], "unrecognized arguments: --bogus"),
    (["--write", "--odd"], "argument --odd: expected one argument"),
    (["--write", "--csv"], "argument --csv: expected one argument"),
    (["--csv", "facts.csv"], "--csv applies to --calibration and --write; expected no --csv when printing the "
                             "parameter table"),
    (["--odd", "ODD.md"], "--odd applies to --calibration and --write; expected no --odd when printing the "
                          "parameter table"),
    (["--write", "--calibration"], "--calibration prints the calibration table, --write refreshes both tables in "
                                   "ODD.md; expected one of them"),
])
def test_bad_option_is_one_line_and_exit_2(capsys, argv, problem):
    """As on the frontiersim command line (sim.cli.OneLineParser): one line naming the option, no
    usage dump, and docs/ODD.md left as it was."""
    before = ODD.read_bytes()
    with pytest.raises(SystemExit) as e:
        P.main(argv)
    cap = capsys.readouterr()
    assert e.value.code == 2 and cap.out == ""
    assert cap.err == f"provenance: error: {problem} (see 'python -m scenarios.provenance --help')\n"
    assert ODD.read_bytes() == before


def test_bad_option_as_a_module_is_one_line():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "scenarios.provenance", "--calibraton"], capture_output=True, text=True,
                       cwd=REPO, timeout=600)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == ["provenance: error: unrecognized arguments: --calibraton "
                                     "(see 'python -m scenarios.provenance --help')"]


CSV_EXPECTED = ("a CSV file of calibration facts with the columns key, value, unit, year, source_title, source_url, "
                "notes")
ODD_EXPECTED = ("docs/ODD.md with the tables' markers (<!-- provenance:start --> ... <!-- calibration:end -->)")


@pytest.mark.parametrize("argv, problem", [
    (["--write", "--odd", "{tmp}/none.md"], "--odd {tmp}/none.md: file not found; expected " + ODD_EXPECTED),
    (["--calibration", "--odd", "{tmp}/none.md"], "--odd {tmp}/none.md: file not found; expected " + ODD_EXPECTED),
    (["--write", "--odd", "{tmp}"], "--odd {tmp}: is a directory; expected " + ODD_EXPECTED),
    (["--write", "--odd", "{tmp}/plain.md"], "--odd {tmp}/plain.md: markers <!-- provenance:start --> ... "
                                             "<!-- provenance:end --> not found; expected the table between them"),
    (["--calibration", "--csv", "{tmp}/none.csv"], "--csv {tmp}/none.csv: file not found; expected " + CSV_EXPECTED),
    (["--calibration", "--csv", "{tmp}/bad.csv"], "--csv {tmp}/bad.csv: lacks the column key, year, source_title, "
                                                  "source_url, notes; expected " + CSV_EXPECTED),
    (["--write", "--odd", "{tmp}/ODD.md", "--csv", "{tmp}/none.csv"],
     "--csv {tmp}/none.csv: file not found; expected " + CSV_EXPECTED),
    (["--write", "--odd", "{tmp}/ODD.md", "--csv", "{tmp}/bad.csv"],
     "--csv {tmp}/bad.csv: lacks the column key, year, source_title, source_url, notes; expected " + CSV_EXPECTED),
])
def test_a_bad_file_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, argv, problem):
    """A file --odd or --csv names that is missing, a directory, or lacks what the tables need is
    one line naming the option and the file (it was a traceback), and no file is written."""
    (tmp_path / "ODD.md").write_bytes(ODD.read_bytes())
    (tmp_path / "plain.md").write_text("# no tables here\n")
    (tmp_path / "bad.csv").write_text("value,unit\n1,x\n")
    before = {f: f.read_bytes() for f in tmp_path.iterdir()}
    with pytest.raises(SystemExit) as e:
        P.main([a.format(tmp=tmp_path) for a in argv])
    cap = capsys.readouterr()
    assert e.value.code == 2 and cap.out == ""
    assert cap.err == f"provenance: error: {problem.format(tmp=tmp_path)}\n"
    assert {f: f.read_bytes() for f in tmp_path.iterdir()} == before

