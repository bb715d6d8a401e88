"""Load scenarios: named files shipped in the package or user TOML files, with ``extends``
inheritance, ``--set dotted.key=value`` overrides and a record of where each value came from.

Resolution rules:

* A scenario reference is a *name* (``baseline``: a file ``scenarios/data/NAME.toml``) or a
  *path* (anything ending in ``.toml`` or containing a ``/``, or an existing file). On the
  command line paths are relative to the working directory; in ``extends`` they are relative to
  the directory of the file that says ``extends``, and a bare name is first a shipped scenario,
  then ``NAME.toml`` next to that file.
* A child file is merged into its parent table by table: keys it sets replace the parent's,
  keys it leaves out are inherited. Lists (``events``, ``sells_to``...) are replaced whole, so a
  child that lists ``[[events]]`` replaces its parent's events; copy them to keep them.
* ``name`` is not inherited: a file that does not set it is named after its file stem.
* ``--set`` overrides apply last. They may only name existing fields: an existing lab, supplier
  or grid id, an existing event index (``events.0.value``), and a field of the schema.

Every value carries its origin: ``default`` (schema default), ``parent:NAME`` (inherited from
the parent scenario NAME), ``file`` (set in the scenario file itself) or ``override``. A
:class:`Scenario` object given instead of a file (:func:`override_scenario`) does not remember
its files: its values that differ from the schema default are ``scenario object``.

Every problem is a :class:`ScenarioError` whose message is one line naming the file (or the
``--set`` option), the field path and what was expected.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import tomllib
import types
import typing
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .schema import HorizonError, Scenario

#: Sections whose keys are ids chosen by the scenario (a table of tables).
_ID_TABLES = {"labs": "lab", "suppliers": "supplier", "grids": "grid"}


class ScenarioError(Exception):
    """A user-caused scenario problem; the message is one line naming file, field and expectation."""


class OverrideError(ScenarioError):
    """A scenario problem caused by the override of ``key``: the message is
    ``'{where}: {option}: {problem}'``, with ``option`` the override as typed (``--set KEY=VALUE``)."""

    def __init__(self, where: str, option: str, key: str, problem: str):
        super().__init__(f"{where}: {option}: {problem}")
        self.key, self.problem = key, problem


# =========================================================================================
# finding and reading files
# =========================================================================================
def data_dir() -> Path:
    return Path(str(resources.files("scenarios") / "data"))


def named_scenarios() -> list[str]:
    return sorted(p.stem for p in data_dir().glob("*.toml"))


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _looks_like_path(ref: str) -> bool:
    return ref.endswith(".toml") or "/" in ref or "\\" in ref


def find_scenario(ref: str, relative_to: Path | None = None) -> Path:
    """Path of the scenario ``ref`` (a name or a path); ``relative_to`` is the directory of the
    file whose ``extends`` names it (None on the command line)."""
    if not isinstance(ref, str) or not ref.strip():
        raise ScenarioError(f"{ref!r}: expected a scenario name or a path to a .toml file")
    if _looks_like_path(ref):
        p = Path(ref).expanduser()
        if not p.is_absolute() and relative_to is not None:
            p = relative_to / p
        return p
    if relative_to is None and Path(ref).is_file():
        return Path(ref)
    named = data_dir() / f"{ref}.toml"
    if named.is_file():
        return named
    if relative_to is not None and (relative_to / f"{ref}.toml").is_file():
        return relative_to / f"{ref}.toml"
    names = named_scenarios()
    raise ScenarioError(f"{ref}: no such scenario{_did_you_mean(ref, names)}; expected one of "
                        f"{', '.join(names)}, or a path to a .toml file")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found; expected a .toml scenario file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory; expected a .toml scenario file") from None
    except PermissionError:
        raise ScenarioError(f"{path}: cannot read the file (permission denied)") from None
    except UnicodeDecodeError as e:
        raise ScenarioError(f"{path}: not valid TOML: not UTF-8 text (byte {e.start}); expected a UTF-8 .toml file") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: not valid TOML: {e}") from None
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read the file ({e.strerror or e})") from None


# =========================================================================================
# merging with origin tracking
# =========================================================================================
class _Provenance:
    """Where each dotted key's value came from: an origin label and, for error messages, the
    file (or ``--set`` option) that set it."""

    def __init__(self) -> None:
        self.origin: dict[str, str] = {}
        self.where: dict[str, str] = {}

    def mark(self, key: str, v: Any, label: str, where: str) -> None:
        # a table marks only its leaves: the keys it leaves out keep their defaults; a list is
        # one value (its items inherit the list's origin in resolved_with_origin)
        if isinstance(v, dict):
            for k2, v2 in v.items():
                self.mark(f"{key}.{k2}", v2, label, where)
            return
        self.origin[key] = label
        self.where[key] = where

    def marked(self, key: str) -> str | None:
        """``key`` or its nearest ancestor table that has an origin (None when none has)."""
        parts = key.split(".")
        return next((k for k in (".".join(parts[:j]) for j in range(len(parts), 0, -1)) if k in self.origin), None)

    def lookup(self, key: str) -> tuple[str, str] | None:
        """(origin, where) of ``key`` or of its nearest marked ancestor table."""
        k = self.marked(key)
        return None if k is None else (self.origin[k], self.where[k])


def _merge(base: dict, over: dict, prov: _Provenance, label: str, where: str, prefix: str = "") -> dict:
    """Deep-merge ``over`` into ``base``; tables merge key by key, lists and scalars replace."""
    out = dict(base)
    for k, v in over.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v, prov, label, where, key + ".")
        else:
            out[k] = copy.deepcopy(v)
            prov.mark(key, v, label, where)
    return out


def _load_raw(ref: str, relative_to: Path | None, chain: tuple[Path, ...], prov: _Provenance) -> tuple[dict, Path]:
    """Read ``ref`` and its ancestors, merged; values are labelled ``parent:NAME`` while
    ``chain`` is not empty (the file is somebody's parent) and ``file`` for the top file."""
    path = find_scenario(ref, relative_to).resolve()
    if path in chain:
        cyc = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(f"{chain[-1]}: extends: cycle of scenarios ({cyc}); expected a chain of parents that ends")
    raw = _read_toml(path)
    parent = raw.get("extends")
    base: dict = {}
    if parent is not None:
        if not isinstance(parent, str) or not parent.strip():
            raise ScenarioError(f"{path}: extends: expected a scenario name or a path to a .toml file (got {parent!r})")
        try:
            ppath = find_scenario(parent, path.parent)
        except ScenarioError as e:
            raise ScenarioError(f"{path}: extends: {e}") from None
        if not ppath.exists():
            raise ScenarioError(f"{path}: extends: parent file {ppath} not found; expected a path relative to {path.parent}")
        base, _ = _load_raw(str(ppath), path.parent, (*chain, path), prov)
    label = "file" if not chain else f"parent:{path.stem}"
    merged = _merge(base, raw, prov, label, str(path))
    if not chain and "name" not in raw:
        # a scenario is named by its own file, never by its parent
        merged["name"] = path.stem
        prov.mark("name", path.stem, "file", str(path))
    return merged, path


# =========================================================================================
# overrides
# =========================================================================================
def _parse_value(text: str) -> Any:
    """A TOML value (``1e14``, ``true``, ``"x"``, ``["a", "b"]``); anything else is a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # bare strings need no quotes on the command line


def _show(v: Any) -> str:
    try:
        return format_value(v)
    except TypeError:
        return repr(v)


def _split(o: str, from_cli: bool = True) -> tuple[str, str]:
    """``(key, value text)`` of a ``dotted.key=value`` override; errors name it as ``--set o``
    (``from_cli``) or as the Python string ``override 'o'``."""
    if "=" not in o or not (k := o.split("=", 1)[0].strip()) or any(not p for p in k.split(".")):
        if from_cli:
            raise ScenarioError(f"--set {o}: expected dotted.key=value, e.g. --set grids.us_east.buildout_mw_per_year=500")
        raise ScenarioError(f"override {o!r}: expected 'dotted.key=value', e.g. 'grids.us_east.buildout_mw_per_year=500'")
    return k, o.split("=", 1)[1].strip()


def _option(key: str, value: Any, text: str | None, from_cli: bool) -> str:
    """An override as the user wrote it, for error messages: ``--set KEY=VALUE`` on the command
    line; from Python ``overrides['KEY']=VALUE`` (a dict, ``text`` None) or ``override 'KEY=VALUE'``
    (a list of strings)."""
    if from_cli:
        return f"--set {key}={_show(value) if text is None else text}"
    return f"overrides[{key!r}]={value!r}" if text is None else f"override {f'{key}={text}'!r}"


def _unwrap(ann: Any) -> Any:
    """The schema annotation without ``Optional``."""
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return ann


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _fields_text(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields)


def _check_override_path(parts: list[str], data: dict, where: str, opt: str) -> None:
    """Reject an override that names no field: walk the schema and the current data together.

    Raises:
        OverrideError: naming ``opt``.
    """
    key = ".".join(parts)
    model: Any = Scenario
    node: Any = data
    i = 0
    path: list[str] = []
    while i < len(parts):
        p = parts[i]
        fields = model.model_fields
        if p not in fields:
            sect = ".".join(path) or "the top level"
            raise OverrideError(where, opt, key, f"unknown field {'.'.join(path + [p])!r}{_did_you_mean(p, list(fields))}; "
                                f"expected a field of {sect}: {_fields_text(model)}")
        if model is Scenario and p == "extends":
            raise OverrideError(where, opt, key, "'extends' cannot be overridden; expected it in a scenario file")
        path.append(p)
        node = node.get(p) if isinstance(node, dict) else None
        ann = _unwrap(fields[p].annotation)
        origin_t = typing.get_origin(ann)
        i += 1
        if i == len(parts):
            if _is_model(ann) or origin_t is dict:
                example = next(iter(ann.model_fields)) if _is_model(ann) else f"{next(iter(node), 'ID') if isinstance(node, dict) else 'ID'}.FIELD"
                raise OverrideError(where, opt, key, f"{'.'.join(path)!r} is a table; expected a field inside it, "
                                    f"e.g. {'.'.join(path)}.{example}")
            return
        if origin_t is dict:  # labs / suppliers / grids: the next part is an existing id
            ids = sorted(node) if isinstance(node, dict) else []
            ident = parts[i]
            if ident not in ids:
                kind = _ID_TABLES.get(p, "entry")
                raise OverrideError(where, opt, key, f"unknown {kind} {ident!r} in {p}{_did_you_mean(ident, ids)}; "
                                    f"expected one of {', '.join(ids) or '(none defined)'}")
            path.append(ident)
            node = node[ident]
            model = typing.get_args(ann)[1]
            i += 1
            if i == len(parts):
                raise OverrideError(where, opt, key, f"{'.'.join(path)!r} is a table; expected a field inside it, "
                                    f"e.g. {'.'.join(path)}.{next(iter(model.model_fields))}")
            continue
        if origin_t is list:
            item = typing.get_args(ann)[0] if typing.get_args(ann) else None
            n = len(node) if isinstance(node, list) else 0
            idx = parts[i]
            if not _is_model(item):
                raise OverrideError(where, opt, key, f"{'.'.join(path)!r} is a list value; expected --set {'.'.join(path)}=[...]")
            if not idx.isdigit() or int(idx) >= n:
                have = f"an index 0..{n - 1}" if n else f"an existing entry, but the scenario has no {p}"
                raise OverrideError(where, opt, key, f"no entry {idx!r} in {'.'.join(path)}; expected {have}")
            path.append(idx)
            node = node[int(idx)]
            model = item
            i += 1
            if i == len(parts):
                raise OverrideError(where, opt, key, f"{'.'.join(path)!r} is a table; expected a field inside it, "
                                    f"e.g. {'.'.join(path)}.{next(iter(model.model_fields))}")
            continue
        if _is_model(ann):
            model = ann
            continue
        raise OverrideError(where, opt, key, f"{'.'.join(path)!r} is a value, not a table; expected --set {'.'.join(path)}=VALUE")


def apply_overrides(data: dict, overrides: list[str] | dict[str, Any], origin: dict | _Provenance, where: str,
                    named: Iterable[tuple[str, Any, str]] = (), from_cli: bool = True) -> dict:
    """Apply ``dotted.key=value`` overrides (strings from the command line, or a dict of parsed
    values) to the merged scenario ``data``; unknown keys are errors. Returns a new dict.

    Errors name an override as the user wrote it: ``--set KEY=VALUE`` with ``from_cli``, else (the
    Python API) ``overrides['KEY']=VALUE`` for a dict and ``override 'KEY=VALUE'`` for a string.

    ``named`` are further overrides applied after them, each ``(dotted key, value, option)``
    with ``option`` what set the value as the user wrote it (``--end 2030-12`` for the command
    line's ``--end``), which errors then name instead of a ``--set KEY=VALUE`` they never wrote."""
    prov = origin if isinstance(origin, _Provenance) else None
    if isinstance(overrides, dict):
        items = [(k, v, _option(k, v, None, from_cli)) for k, v in overrides.items()]
    else:
        items = []
        for o in overrides:
            k, text = _split(o, from_cli)
            items.append((k, _parse_value(text), _option(k, None, text, from_cli)))
    items += named
    data = copy.deepcopy(data)
    for key, value, opt in items:
        parts = key.split(".")
        _check_override_path(parts, data, where, opt)
        node: Any = data
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        node[parts[-1]] = copy.deepcopy(value)
        if prov is None:
            prov = _Provenance()
            prov.origin = origin
        for k in [k for k in prov.origin if k.startswith(key + ".")]:  # (a whole list replaced: its items' origins go)
            del prov.origin[k]
            prov.where.pop(k, None)
        prov.mark(key, value, "override", opt)
    return data


# =========================================================================================
# validation with one-line messages
# =========================================================================================
def _schema_model_at(loc: list[str]) -> type[BaseModel] | None:
    """The schema class of the table at ``loc`` (e.g. ['labs', 'hyper_a'] -> LabParams)."""
    model: Any = Scenario
    i = 0
    while i < len(loc):
        f = model.model_fields.get(loc[i])
        if f is None:
            return None
        ann = _unwrap(f.annotation)
        i += 1
        if typing.get_origin(ann) is dict:
            model = typing.get_args(ann)[1]
            i += 1
        elif typing.get_origin(ann) is list:
            model = typing.get_args(ann)[0]
            i += 1
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return None
        if i > len(loc):
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _num(x: Any) -> str:
    return format_value(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def _expected(err: dict, loc: list[str]) -> str:
    """What a pydantic error means, phrased as what was expected."""
    t, ctx, msg = err["type"], err.get("ctx") or {}, err["msg"]
    if t == "extra_forbidden":
        model = _schema_model_at(loc[:-1])
        opts = list(model.model_fields) if model else []
        sect = ".".join(loc[:-1]) or "the top level"
        return f"unknown field{_did_you_mean(loc[-1], opts)}; expected a field of {sect}: {', '.join(opts)}"
    simple = {
        "float_parsing": "expected a number", "float_type": "expected a number",
        "int_parsing": "expected an integer", "int_type": "expected an integer", "int_from_float": "expected an integer",
        "bool_parsing": "expected true or false", "bool_type": "expected true or false",
        "string_type": "expected a string (in quotes)", "list_type": "expected a list [...]",
        "dict_type": "expected a table", "model_type": "expected a table", "model_attributes_type": "expected a table",
        "finite_number": "expected a finite number", "missing": "missing; expected a value for this required field",
    }
    if t in simple:
        return simple[t]
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if t in bounds:
        v = next(iter(ctx.values()), "?")
        return f"expected a value {bounds[t]} {_num(v)}"
    if t == "literal_error":
        return f"expected one of {ctx.get('expected', '')}"
    if t == "value_error":
        return msg.removeprefix("Value error, ")
    return msg


def describe_error(err: dict, prefix: list[str] = ()) -> tuple[str, str]:
    """``(dotted key, 'KEY: what was expected (got VALUE)')`` of one pydantic error of the table
    at ``prefix`` (the scenario's top level by default)."""
    loc = [*prefix, *(str(x) for x in err["loc"])]
    text = _expected(err, loc)
    if not err["loc"] and err["type"] == "value_error":
        # cross-field checks (Scenario._consistent) name their field path in the message
        head, sep, rest = text.partition(": ")
        if sep and " " not in head:
            loc, text = [*prefix, *head.split(".")], rest
    key = ".".join(loc)
    got = err.get("input")
    got_s = ""
    if err["type"] not in ("value_error", "missing", "extra_forbidden") and not isinstance(got, (dict, list)) and got is not None:
        got_s = f" (got {format_value(got) if isinstance(got, (int, float)) else repr(got)})"
    return key, f"{key or '(top level)'}: {text}{got_s}"


def _validate(data: dict, prov: _Provenance, top: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        errs = e.errors()
        err = errs[0]
        key, problem = describe_error(err)
        src = prov.lookup(key) if key else None
        text = ""
        if isinstance((err.get("ctx") or {}).get("error"), HorizonError):
            for k in ("start", "end"):
                s = prov.lookup(k)
                if s and s[0] == "override" and k != key:  # (the field's own --set, --end or end= starts the message)
                    text += f"; {k} set by {s[1]}"
        more = f" [+{len(errs) - 1} more problem{'s' if len(errs) > 2 else ''}]" if len(errs) > 1 else ""
        problem = f"{problem}{text}{more}"
        if src is not None and src[0] == "override":
            raise OverrideError(top, src[1], prov.marked(key), problem) from None
        where = top if src is None or src[0] == "default" else src[1]  # a default, or the file that set the value
        raise ScenarioError(f"{where}: {problem}") from None


# =========================================================================================
# public API
# =========================================================================================
def load_scenario(ref: str, overrides: list[str] | dict[str, Any] | None = None,
                  named: Iterable[tuple[str, Any, str]] = (), from_cli: bool = True) -> tuple[Scenario, dict[str, str]]:
    """Load, merge and validate a scenario.

    Args:
        ref: a named scenario ('baseline') or a path to a TOML file.
        overrides: ``["a.b=1", ...]`` from the command line or a dict ``{"a.b": 1}``.
        named: further overrides ``(dotted key, value, option as the user wrote it)``, applied
            last and named by that option in errors (see :func:`apply_overrides`).
        from_cli: errors name an override ``--set KEY=VALUE``; False (the Python API) names it
            as passed, ``overrides['KEY']=VALUE`` or ``override 'KEY=VALUE'``.

    Returns:
        The validated scenario and a dict 'dotted.key' -> 'default' | 'parent:NAME' | 'file' | 'override'
        (keys not in the dict are defaults).

    Raises:
        ScenarioError: with a one-line message naming the file, the field path and what was expected.
    """
    prov = _Provenance()
    data, path = _load_raw(ref, None, (), prov)
    return _resolve(data, prov, str(path), overrides, named, from_cli)


#: the origin of a value of a :class:`Scenario` object that is not its schema default
OBJECT_ORIGIN = "scenario object"


def object_origin(sc: Scenario, where: str = "") -> _Provenance:
    """Origins of the values of a scenario object (not loaded here): each value that differs from
    its schema default is ``scenario object`` (whoever set it: a file it was loaded from, an
    assignment, a constructor), the others are ``default``. (An object does not remember the files
    it was loaded from, so the object is all it can honestly name.)"""
    prov = _Provenance()
    for key, v, _ in resolved_with_origin(sc, {}):
        parts = key.split(".")
        model = _schema_model_at(parts[:-1]) if len(parts) > 1 else Scenario
        f = model.model_fields.get(parts[-1]) if model else None
        default = f.get_default(call_default_factory=True) if f is not None and not f.is_required() else object()
        if isinstance(default, BaseModel):
            default = default.model_dump(mode="json")
        if v != default:
            prov.mark(key, v, OBJECT_ORIGIN, where)
    return prov


def override_scenario(sc: Scenario, overrides: list[str] | dict[str, Any] | None = None,
                      named: Iterable[tuple[str, Any, str]] = (),
                      where: str = "<scenario>", from_cli: bool = True) -> tuple[Scenario, dict[str, str]]:
    """A new validated scenario: ``sc`` checked again as a whole (it may have been changed by
    assignments since it was validated), with overrides applied (as for :func:`load_scenario`);
    errors start with ``where``.

    The origins returned are ``override`` for the overrides' values and, for the others,
    :func:`object_origin`'s: ``scenario object`` where the value differs from the schema default
    (``default`` otherwise)."""
    prov = object_origin(sc, where)
    return _resolve(sc.model_dump(), prov, where, overrides, named, from_cli)


def check_scenario(sc: Scenario, where: str | None = None) -> Scenario:
    """``sc`` checked again as a whole: a new validated scenario with its values, or a
    :class:`ScenarioError` (one line, starting with ``where``; by default ``scenario object
    'NAME'``). An assignment to a field is checked when it is made, but a change made in place
    to a table or a list (a lab added to ``sc.labs``, a grid deleted, a region appended to a
    supplier's ``sells_to``) is seen by no check until the scenario is validated again.
    About 2 ms for the baseline (no provenance: cheaper than :func:`override_scenario`)."""
    where = f"scenario object {sc.name!r}" if where is None else where
    return _validate(sc.model_dump(warnings=False), _Provenance(), where)


def _resolve(data: dict, prov: _Provenance, where: str, overrides: list[str] | dict[str, Any] | None,
             named: Iterable[tuple[str, Any, str]], from_cli: bool = True) -> tuple[Scenario, dict[str, str]]:
    named = list(named)
    if overrides or named:
        data = apply_overrides(data, overrides or [], prov, where, named, from_cli)
    return _validate(data, prov, where), dict(prov.origin)


def scenario_path(ref: str) -> Path:
    """The file a scenario reference resolves to (no validation)."""
    return find_scenario(ref).resolve()


def resolved_with_origin(sc: Scenario, origin: dict[str, str]) -> list[tuple[str, Any, str]]:
    """Flatten a scenario into (dotted key, value, where it came from) rows, in schema order.

    ``origin`` is :func:`load_scenario`'s (or :func:`override_scenario`'s); a key it lacks takes
    the origin of its nearest ancestor in it (a list set as a whole), else ``default``."""
    rows: list[tuple[str, Any, str]] = []

    def walk(obj: Any, prefix: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{prefix}{k}.")
            return
        if isinstance(obj, list) and obj and isinstance(obj[0], dict):
            for i, v in enumerate(obj):
                walk(v, f"{prefix}{i}.")
            return
        key = prefix[:-1]
        src = origin.get(key)
        if src is None:
            # a value inside a table marked as a whole keeps the table's origin
            parts = key.split(".")
            for j in range(len(parts) - 1, 0, -1):
                if ".".join(parts[:j]) in origin:
                    src = origin[".".join(parts[:j])]
                    break
        rows.append((key, obj, src or "default"))

    walk(sc.model_dump(mode="json"), "")
    return rows


def resolved_parameters(sc: Scenario, origin: dict[str, str]) -> dict[str, Any]:
    """The resolved parameters and their origins, as written to a run's ``manifest.json``."""
    return {
        "scenario": sc.name,
        "start": sc.start,
        "end": sc.end,
        "parameters": sc.model_dump(mode="json"),
        "parameter_origin": {k: src for k, _, src in resolved_with_origin(sc, origin)},
    }


def field_unit(key: str) -> str:
    """Unit of a dotted parameter key from the schema ('' when none)."""
    parts = key.split(".")
    model = _schema_model_at(parts[:-1]) if len(parts) > 1 else Scenario
    f = model.model_fields.get(parts[-1]) if model else None
    extra = (f.json_schema_extra or {}) if f is not None else {}
    unit = extra.get("unit", "") if isinstance(extra, dict) else ""
    return "" if unit in ("-", "") else str(unit)


# =========================================================================================
# TOML formatting (for ``frontiersim scenarios show``)
# =========================================================================================
def format_value(v: Any) -> str:
    """A value as TOML: the output of ``scenarios show`` parses back to the same values."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        r = repr(v)
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-4):
            for p in range(0, 17):
                s = f"{v:.{p}e}"
                if float(s) == v:
                    mant, ex = s.split("e")
                    return f"{mant}e{int(ex)}"
        return r
    if isinstance(v, str):
        out = ['"']
        for ch in v:
            if ch in '"\\':
                out.append("\\" + ch)
            elif ord(ch) < 0x20 or ch == "\x7f":
                out.append(f"\\u{ord(ch):04x}")
            else:
                out.append(ch)
        return "".join(out) + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{format_key(k)} = {format_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot format {type(v).__name__} as TOML")


def format_key(key: str) -> str:
    """A dotted key with each part quoted when it is not a bare TOML key."""
    return ".".join(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else format_value(p) for p in key.split("."))
