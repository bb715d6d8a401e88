"""Load scenarios: named files shipped in the package or user TOML files, with ``extends``
inheritance, ``--set dotted.key=value`` overrides and a record of where each value came from.
"""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .schema import Scenario


class ScenarioError(Exception):
    """A user-caused scenario problem; the message is one line naming file, field and expectation."""


def data_dir() -> Path:
    return Path(str(resources.files("scenarios") / "data"))


def named_scenarios() -> list[str]:
    return sorted(p.stem for p in data_dir().glob("*.toml"))


def _resolve_path(ref: str, relative_to: Path | None = None) -> Path:
    p = Path(ref)
    if p.suffix == ".toml" or p.exists() or "/" in ref:
        if not p.is_absolute() and relative_to is not None and not p.exists():
            p = relative_to / p
        return p
    named = data_dir() / f"{ref}.toml"
    if named.exists():
        return named
    raise ScenarioError(f"{ref}: no such scenario; expected one of {', '.join(named_scenarios())} or a path to a .toml file")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, expected a .toml scenario file") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: not valid TOML ({e})") from None
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read ({e.strerror})") from None


def _merge(base: dict, over: dict, origin: dict, label: str, prefix: str = "") -> dict:
    """Deep-merge ``over`` into ``base``; tables merge key by key, lists and scalars replace."""
    out = dict(base)
    for k, v in over.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v, origin, label, key + ".")
        else:
            out[k] = copy.deepcopy(v)
            _mark(origin, key, v, label)
    return out


def _mark(origin: dict, key: str, v: Any, label: str) -> None:
    if isinstance(v, dict):
        for k2, v2 in v.items():
            _mark(origin, f"{key}.{k2}", v2, label)
    else:
        origin[key] = label


def _load_raw(ref: str, relative_to: Path | None, chain: tuple[Path, ...], origin: dict) -> tuple[dict, Path]:
    path = _resolve_path(ref, relative_to).resolve()
    if path in chain:
        cyc = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(f"{path}: extends: cycle of scenarios ({cyc})")
    raw = _read_toml(path)
    parent = raw.get("extends")
    base: dict = {}
    if parent is not None:
        if not isinstance(parent, str):
            raise ScenarioError(f"{path}: extends: expected a scenario name or path, got {parent!r}")
        try:
            base, _ = _load_raw(parent, path.parent, (*chain, path), origin)
        except ScenarioError as e:
            msg = str(e)
            if "no such scenario" in msg or "file not found" in msg:
                raise ScenarioError(f"{path}: extends: parent {parent!r} not found ({msg})") from None
            raise
        # anything inherited is labelled with the parent's name
        for k in list(origin):
            if not origin[k].startswith("parent:"):
                origin[k] = f"parent:{parent}"
    label = "file" if not chain else f"parent:{path.stem}"
    merged = _merge(base, raw, origin, label)
    return merged, path


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # bare strings need no quotes on the command line


def apply_overrides(data: dict, overrides: list[str] | dict[str, Any], origin: dict, where: str) -> dict:
    """Apply ``dotted.key=value`` overrides; unknown keys are reported by validation afterwards."""
    items = overrides.items() if isinstance(overrides, dict) else [_split(o) for o in overrides]
    data = copy.deepcopy(data)
    for key, value in items:
        if isinstance(value, str) and not isinstance(overrides, dict):
            value = _parse_value(value)
        parts = key.split(".")
        node = data
        for p in parts[:-1]:
            if p.isdigit() and isinstance(node, list):
                node = node[int(p)]
                continue
            if p not in node:
                _check_known_path(parts, where, key)
                node[p] = {}
            node = node[p]
            if not isinstance(node, (dict, list)):
                raise ScenarioError(f"{where}: --set {key}: {p!r} is a value, not a table")
        _check_known_path(parts, where, key)
        node[parts[-1]] = value
        origin[key] = "override"
    return data


def _split(o: str) -> tuple[str, str]:
    if "=" not in o:
        raise ScenarioError(f"--set {o}: expected dotted.key=value")
    k, v = o.split("=", 1)
    return k.strip(), v.strip()


def _check_known_path(parts: list[str], where: str, key: str) -> None:
    """Reject override keys that name no schema field (before validation would call it 'extra')."""
    from pydantic import BaseModel

    model: Any = Scenario
    i = 0
    while i < len(parts):
        p = parts[i]
        fields = model.model_fields
        if p not in fields:
            raise ScenarioError(f"{where}: --set {key}: unknown field {'.'.join(parts[:i + 1])!r}")
        ann = fields[p].annotation
        origin_t = getattr(ann, "__origin__", None)
        if origin_t is dict:
            model = ann.__args__[1]
            i += 2  # skip the id
            continue
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
            i += 1
            continue
        return
    return


def load_scenario(ref: str, overrides: list[str] | dict[str, Any] | None = None) -> tuple[Scenario, dict[str, str]]:
    """Load, merge and validate a scenario.

    Args:
        ref: a named scenario ('baseline') or a path to a TOML file.
        overrides: ``["a.b=1", ...]`` from the command line or a dict ``{"a.b": 1}``.

    Returns:
        The validated scenario and a dict 'dotted.key' -> 'default' | 'parent:NAME' | 'file' | 'override'.

    Raises:
        ScenarioError: with a one-line message naming the file, the field path and what was expected.
    """
    origin: dict[str, str] = {}
    data, path = _load_raw(ref, None, (), origin)
    where = str(path)
    if overrides:
        data = apply_overrides(data, overrides, origin, where)
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        got = err.get("input")
        got_s = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
        more = f" [+{len(e.errors()) - 1} more]" if len(e.errors()) > 1 else ""
        raise ScenarioError(f"{where}: {loc or '(top level)'}: {msg}{got_s}{more}") from None
    return sc, origin


def resolved_with_origin(sc: Scenario, origin: dict[str, str]) -> list[tuple[str, Any, str]]:
    """Flatten a scenario into (dotted key, value, where it came from) rows."""
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
            # a value inside an inherited table without its own mark keeps its table's origin
            parts = key.split(".")
            for j in range(len(parts) - 1, 0, -1):
                if ".".join(parts[:j]) in origin:
                    src = origin[".".join(parts[:j])]
                    break
        rows.append((key, obj, src or "default"))

    walk(sc.model_dump(mode="json"), "")
    return rows
