"""Parameter provenance: one row per scenario-schema field, with unit, default, allowed range,
source and a confidence class, rendered as the markdown table of ``docs/ODD.md`` section 8.

The rows are read from the pydantic schema itself (``model_fields`` and the ``unit``/``source``
entries that :func:`scenarios.schema.P` stores in ``json_schema_extra``), so the table cannot
drift from the code: ``tests/test_provenance.py`` checks that the copy in ``docs/ODD.md`` equals
:func:`render_markdown`.

Confidence is derived from the source text, in this order:

* ``calibrated``: the source says "calibrated" (fitted by ``analysis/calibrate.py`` to the
  backcast's fitting rows; docs/ODD.md section 7.25);
* ``derived``: the source says "derived" (a number computed from calibration facts);
* ``assumption``: the source says "assumption" anywhere, or cites no calibration key;
* ``sourced``: the source cites a calibration key in square brackets, e.g. ``[h100_price]``.

Usage::

    python -m scenarios.provenance                 # print the parameter table
    python -m scenarios.provenance --calibration   # print the calibration table (needs ../shared)
    python -m scenarios.provenance --write         # refresh both tables inside docs/ODD.md
"""

from __future__ import annotations

import csv
import fnmatch
import io
import re
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .months import FIRST_MONTH, LAST_MONTH
from .schema import Scenario

REPO = Path(__file__).resolve().parents[1]
ODD_PATH = REPO / "docs" / "ODD.md"
CALIBRATION_CSV = REPO / ".." / "shared" / "calibration" / "calibration_facts.csv"

START_MARK, END_MARK = "<!-- provenance:start -->", "<!-- provenance:end -->"
CAL_START_MARK, CAL_END_MARK = "<!-- calibration:start -->", "<!-- calibration:end -->"

#: A calibration key cited in a source: ``[h100_price]``; ``*`` is a wildcard (``[chinchilla_besiroglu_*]``).
#: Keys contain an underscore; a bracket followed by ``(`` is a markdown link, not a citation.
KEY_RE = re.compile(r"\[([A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]*\*?)\](?!\()")

COLUMNS = ("parameter", "unit", "default", "allowed range", "source", "confidence")

#: Allowed values that the schema checks across fields (``Scenario._consistent``) or by validator.
_RANGE_HINTS = {
    "extends": "scenario name or path; unset",
    "start": f"YYYY-MM, {FIRST_MONTH} to {LAST_MONTH}",
    "end": f"YYYY-MM, not before start, at most {LAST_MONTH}",
    "calibration_month": "YYYY-MM",
    "labs.*.region": "a grid id",
    "labs.*.supplier_partner": "a supplier id; empty",
    "suppliers.*.sells_to": "list of grid ids",
    "suppliers.*.exclusive_to": "list of lab ids",
    "events.*.month": "YYYY-MM within start..end",
    "events.*.value": "by kind (7.19): e.g. compute_cap > 0, opt_out [0, 1], sentiment_crash (0, 10]",
    "events.*.supplier": "a supplier id; empty",
    "events.*.region": "a grid id; empty",
}


class ProvenanceError(ValueError):
    """A file the tables are read from or written into cannot be used; the message is what is
    wrong and what was expected, for the caller to prefix with the file (and the option naming it)."""


@dataclass(frozen=True)
class ProvenanceRow:
    parameter: str
    unit: str
    default: str
    allowed_range: str
    source: str
    confidence: str
    description: str

    def cells(self) -> tuple[str, ...]:
        return (self.parameter, self.unit, self.default, self.allowed_range, self.source, self.confidence)


def confidence(source: str) -> str:
    """'calibrated', 'sourced', 'derived' or 'assumption' from a field's source text (rule in the module docstring)."""
    s = source.lower()
    if s.startswith("calibrated"):
        return "calibrated"
    if "derived" in s:
        return "derived"
    if "assumption" in s:
        return "assumption"
    if KEY_RE.search(source):
        return "sourced"
    return "assumption"


def cited_keys(source: str) -> list[str]:
    """Calibration keys (possibly with a trailing ``*`` wildcard) cited in a source text."""
    return KEY_RE.findall(source)


# ----- schema walk -----------------------------------------------------------------------------
def _section_type(ann: Any) -> tuple[type[BaseModel] | None, str]:
    """(nested section class, path infix) if the annotation is a section, a dict of sections or a
    list of sections; (None, '') for a leaf parameter."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann, "."
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is dict and args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
        return args[-1], ".*."
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], ".*."
    return None, ""


def iter_fields(model: type[BaseModel] = Scenario, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, FieldInfo) of every leaf field, in declaration order; per-entity tables use ``*``."""
    for name, info in model.model_fields.items():
        sub, infix = _section_type(info.annotation)
        if sub is not None:
            yield from iter_fields(sub, f"{prefix}{name}{infix}")
        else:
            yield f"{prefix}{name}", info


def _num(v: float) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = f"{v:.6g}"
    return s.replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _default(info: Any) -> str:
    d = info.default
    if d is PydanticUndefined:
        return "required"
    if d is None:
        return "unset"
    if isinstance(d, bool):
        return "true" if d else "false"
    if isinstance(d, (int, float)):
        return _num(d)
    if isinstance(d, str):
        return f'"{d}"'
    if isinstance(d, (list, tuple)):
        return "[" + ", ".join(f'"{x}"' if isinstance(x, str) else str(x) for x in d) + "]"
    return str(d)


def field_bounds(info: Any) -> tuple[tuple[Any, bool], tuple[Any, bool]]:
    """``((low, open?), (high, open?))`` of a numeric schema field, from its ``ge``/``gt`` and
    ``le``/``lt`` constraints; ``(None, False)`` on a side without one."""
    lo, lo_open, hi, hi_open = None, False, None, False
    for m in info.metadata:
        if getattr(m, "ge", None) is not None:
            lo, lo_open = m.ge, False
        if getattr(m, "gt", None) is not None:
            lo, lo_open = m.gt, True
        if getattr(m, "le", None) is not None:
            hi, hi_open = m.le, False
        if getattr(m, "lt", None) is not None:
            hi, hi_open = m.lt, True
    return (lo, lo_open), (hi, hi_open)


def field_range(path: str, info: Any) -> str:
    """The allowed values of the schema field at dotted ``path`` as ODD 8 shows them: ``[0, 1]``,
    ``> 0 (integer)``, ``one of: a, b``, ``true, false``."""
    if path in _RANGE_HINTS:
        return _RANGE_HINTS[path]
    ann = info.annotation
    if typing.get_origin(ann) is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in typing.get_args(ann))
    if ann is bool:
        return "true, false"
    if ann is str:
        return "text"
    if ann in (int, float):
        (lo, lo_open), (hi, hi_open) = field_bounds(info)
        lo_closed, hi_closed = not lo_open, not hi_open
        if lo is not None and hi is not None:
            out = f"{'[' if lo_closed else '('}{_num(lo)}, {_num(hi)}{']' if hi_closed else ')'}"
        elif lo is not None:
            out = f"{'>=' if lo_closed else '>'} {_num(lo)}"
        elif hi is not None:
            out = f"{'<=' if hi_closed else '<'} {_num(hi)}"
        else:
            out = "any"
        return out + (" (integer)" if ann is int else "")
    return str(ann).replace("typing.", "")


def provenance_rows() -> list[ProvenanceRow]:
    """One row per schema field (dotted path; ``labs.*.x`` for per-entity tables)."""
    rows = []
    for path, info in iter_fields():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        unit = str(extra.get("unit", "")).strip()
        source = str(extra.get("source", "")).strip()
        rows.append(ProvenanceRow(path, unit, _default(info), field_range(path, info), source, confidence(source),
                                  info.description or ""))
    return rows


# ----- markdown ---------------------------------------------------------------------------------
def _cell(text: str) -> str:
    """Escape a table cell: pipes split cells, asterisks would start emphasis."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("\n", " ")


def unescape_cell(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text.strip())


def split_row(line: str) -> list[str]:
    """Cells of one markdown table row (escaped pipes stay inside their cell), unescaped."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [unescape_cell(c).strip("`") for c in re.split(r"(?<!\\)\|", body)]


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], code_first: bool = True) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        first = f"`{r[0]}`" if code_first else _cell(r[0])
        out.append("| " + " | ".join([first, *(_cell(c) for c in r[1:])]) + " |")
    return "\n".join(out)


def render_markdown(rows: list[ProvenanceRow] | None = None) -> str:
    """The provenance table as GitHub markdown (what sits between the provenance markers)."""
    rows = provenance_rows() if rows is None else rows
    return _table(COLUMNS, [r.cells() for r in rows])


def parse_table(block: str) -> list[list[str]]:
    """Rows of a markdown table (header and separator dropped), cells unescaped."""
    lines = [ln for ln in block.strip().splitlines() if ln.strip().startswith("|")]
    return [split_row(ln) for ln in lines[2:]]


def _marks(text: str, start: str, end: str) -> tuple[int, int]:
    """Where the markers ``start`` and ``end`` are in ``text``; ProvenanceError if either is missing."""
    i, j = text.find(start), text.find(end)
    if i < 0 or j < 0 or j < i:
        raise ProvenanceError(f"markers {start} ... {end} not found; expected the table between them")
    return i, j


def between(text: str, start: str = START_MARK, end: str = END_MARK) -> str:
    """The text between two markers (stripped); ProvenanceError (a ValueError) if either is missing."""
    i, j = _marks(text, start, end)
    return text[i + len(start):j].strip()


def replace_between(text: str, new: str, start: str = START_MARK, end: str = END_MARK) -> str:
    i, j = _marks(text, start, end)
    return text[: i + len(start)] + "\n" + new.strip() + "\n" + text[j:]


# ----- reading files --------------------------------------------------------------------------------
def _read_text(path: Path, expected: str) -> str:
    """The UTF-8 text of ``path``; ProvenanceError (``expected``: what the file should be) if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problem = "file not found"
    except IsADirectoryError:
        problem = "is a directory"
    except UnicodeDecodeError as e:
        problem = f"not UTF-8 text (byte {e.start})"
    except OSError as e:
        problem = f"cannot read the file ({e.strerror or e})"
    raise ProvenanceError(f"{problem}; expected {expected}")


# ----- calibration table --------------------------------------------------------------------------
#: the columns of the calibration CSV that the calibration table shows
CALIBRATION_COLUMNS = ("key", "value", "unit", "year", "source_title", "source_url", "notes")
_CSV_EXPECTED = f"a CSV file of calibration facts with the columns {', '.join(CALIBRATION_COLUMNS)}"


def read_calibration(path: Path = CALIBRATION_CSV) -> dict[str, dict[str, str]]:
    """Rows of the calibration CSV by key.

    Raises:
        ProvenanceError: the file cannot be read, is not CSV or lacks a column (the message does
            not name the file).
    """
    reader = csv.DictReader(io.StringIO(_read_text(path, _CSV_EXPECTED), newline=""))
    try:
        missing = [c for c in CALIBRATION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ProvenanceError(f"lacks the column {', '.join(missing)}; expected {_CSV_EXPECTED}")
        return {r["key"]: r for r in reader}
    except csv.Error as e:
        raise ProvenanceError(f"not valid CSV ({e}); expected {_CSV_EXPECTED}") from None


def expand_keys(keys: list[str], known: list[str]) -> list[str]:
    """Expand wildcard keys against the known ones; keep order, drop duplicates."""
    out: list[str] = []
    for k in keys:
        for m in (fnmatch.filter(known, k) if "*" in k else [k]):
            if m not in out:
                out.append(m)
    return out


def keys_cited_in_schema() -> list[str]:
    out: list[str] = []
    for r in provenance_rows():
        out += [k for k in cited_keys(r.source) if k not in out]
    return out


def keys_cited_in_text(text: str) -> list[str]:
    """Calibration keys cited in ODD text, outside the two generated tables."""
    for s, e in ((START_MARK, END_MARK), (CAL_START_MARK, CAL_END_MARK)):
        i, j = text.find(s), text.find(e)
        if 0 <= i < j:
            text = text[:i] + text[j + len(e):]
    out: list[str] = []
    for k in KEY_RE.findall(text):
        if k not in out:
            out.append(k)
    return out


def render_calibration(facts: dict[str, dict[str, str]], keys: list[str]) -> str:
    """The calibration table (key, value, unit, year, source title, URL, notes), sorted by key."""
    used = sorted(k for k in expand_keys(keys, list(facts)) if k in facts)
    rows = [(k, facts[k]["value"], facts[k]["unit"], facts[k]["year"], facts[k]["source_title"],
             facts[k]["source_url"] or "-", facts[k]["notes"] or "-") for k in used]
    return _table(("key", "value", "unit", "year", "source", "URL", "notes"), rows)


def calibration_markdown(odd_text: str, csv_path: Path = CALIBRATION_CSV) -> str:
    """Calibration table for every key cited by the schema or by the ODD text."""
    facts = read_calibration(csv_path)
    return render_calibration(facts, keys_cited_in_schema() + keys_cited_in_text(odd_text))


#: what --odd should name
_ODD_EXPECTED = f"docs/ODD.md with the tables' markers ({START_MARK} ... {CAL_END_MARK})"


def main(argv: list[str] | None = None) -> int:
    from sim.cli import OneLineParser  # (a bad option is one line and exit status 2, as for frontiersim)
    from sim.paths import write_atomic

    ap = OneLineParser(prog="python -m scenarios.provenance", description=__doc__.split("\n\n")[0],
                       error_name="provenance")
    ap.add_argument("--calibration", action="store_true", help="print the calibration table instead")
    ap.add_argument("--write", action="store_true", help="refresh the tables inside docs/ODD.md")
    ap.add_argument("--odd", type=Path, help=f"path of ODD.md (default {ODD_PATH})")
    ap.add_argument("--csv", type=Path, help=f"path of calibration_facts.csv (default {CALIBRATION_CSV})")
    a = ap.parse_args(argv)
    if a.write and a.calibration:
        ap.error("--calibration prints the calibration table, --write refreshes both tables in ODD.md; expected one of them")
    if not (a.write or a.calibration):  # (printing the parameter table reads no file)
        unused = next((o for o in ("odd", "csv") if getattr(a, o) is not None), None)
        if unused:
            ap.error(f"--{unused} applies to --calibration and --write; expected no --{unused} when printing "
                     "the parameter table")
        print(render_markdown())
        return 0
    odd = ODD_PATH if a.odd is None else a.odd
    csv_path = CALIBRATION_CSV if a.csv is None else a.csv

    def fail(option: str, path: Path, e: Exception) -> typing.NoReturn:
        """One line naming the file (and the option, or that it is the option's default); exit 2."""
        where = f"{option} {path}" if getattr(a, option[2:]) is not None else f"{path} (the default {option})"
        ap.exit(2, f"{ap.error_name}: error: {where}: {e}\n")

    # (every file is read and checked before anything is written)
    try:
        # without --odd, --calibration cites the schema's keys only when the default ODD.md is missing
        text = _read_text(odd, _ODD_EXPECTED) if a.write or a.odd is not None or odd.exists() else ""
    except ProvenanceError as e:
        fail("--odd", odd, e)
    calibration = None
    if a.calibration or a.csv is not None or csv_path.exists():
        try:
            calibration = calibration_markdown(text, csv_path)
        except ProvenanceError as e:
            fail("--csv", csv_path, e)
    if a.calibration:
        print(calibration)
        return 0
    try:
        text = replace_between(text, render_markdown())
        if calibration is not None:
            text = replace_between(text, calibration, CAL_START_MARK, CAL_END_MARK)
    except ProvenanceError as e:
        fail("--odd", odd, e)
    if calibration is None:
        print(f"{csv_path}: not found; calibration table left as is", file=sys.stderr)
    try:
        write_atomic(odd, text)
    except OSError as e:
        fail("--odd", odd, ProvenanceError(f"cannot write the file ({e.strerror or e}); it is left as it was"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
