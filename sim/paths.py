"""Output paths: checks made before any long work, so that a path that cannot be written is one
error line at the start rather than a traceback at the end, and the atomic write of a file.

Each check returns what is wrong as a phrase (None when nothing is), for the caller to put in
its own one-line error; none of them leaves anything on disk.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def dir_path_problem(path: str | Path) -> str | None:
    """What makes ``path`` unusable as an output directory before anything is tried: an empty
    path, or a file in its place; None otherwise."""
    if str(path) == "":
        return "is empty; expected a directory path"
    if Path(path).exists() and not Path(path).is_dir():
        return "exists and is not a directory; expected a directory"
    return None


def write_problem(path: str | Path) -> str | None:
    """What stops creating ``path`` (a file or a directory, with missing parents), or None.

    The first existing ancestor must be a directory this process can create entries in; that is
    tried (a temporary directory made and removed at once), as permissions alone do not say it
    (root, read-only or virtual filesystems such as /proc). An empty path is the caller's to
    refuse (each says what it expected instead).
    """
    anc = Path(path).parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        return f"{anc} is not a directory; expected a directory to write into"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".frontiersim-probe-", dir=anc))
    except OSError as e:
        return f"cannot write in {anc} ({e.strerror or e}); expected a writable directory"
    return None


def file_path_problem(path: str | Path, expected: str) -> str | None:
    """What stops writing the file ``path`` with :func:`write_atomic` (which creates no
    directories), or None: an empty path, a directory in its place, a missing parent directory,
    or a parent this process cannot write in. ``expected`` says what the path should be
    ('an HTML file path'), for the first two.
    """
    if str(path) == "":
        return f"is empty; expected {expected}"
    p = Path(path)
    if p.is_dir():
        return f"is a directory; expected {expected}"
    if not p.parent.exists():
        return f"directory {p.parent} does not exist; expected an existing directory"
    return write_problem(p)  # (a file in the parent's place, a directory this process cannot write)


def encloses_cwd(path: str | Path) -> bool:
    """Whether ``path`` is the current directory or one of its parents."""
    p = Path(path).resolve()
    cwd = Path.cwd().resolve()
    return p == cwd or p in cwd.parents


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text is written as UTF-8, bytes as they are) to ``path``, all or nothing.

    The data goes to a hidden temporary file beside ``path`` (``.NAME.XXXXXXXX.tmp``, skipped by
    Parquet dataset readers), created as any new file is (0666 less the umask), then renamed over
    ``path``: a reader sees the old file or the whole new one, never part of it. On any failure
    (an interruption included) the temporary file is removed and the error raised, ``path`` left
    as it was. The caller turns an ``OSError`` into its own one-line error.

    Returns:
        ``path``, as a Path.
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    while True:  # mkstemp would make the file 0600; created here with the mode a new file gets
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_dir_atomic(out: str | Path, fill: Callable[[Path], None]) -> Path:
    """Make the directory ``out`` all or nothing: ``fill(tmp)`` writes its contents into a hidden
    temporary directory beside it (``.NAME.tmp-XXXXXXXX``), which is then renamed into place. An
    existing ``out`` (the caller has checked it may be replaced) is moved aside first and removed
    once the new one is in place. On any failure (an interruption included) the temporary
    directory and the parent directories this call created are removed, an existing ``out`` is
    left as it was, and the error is raised.

    Returns:
        ``out``, as a Path.
    """
    out = Path(out)
    parent = out.resolve().parent
    made = [d for d in (parent, *parent.parents) if not d.exists()]
    tmp = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
        fill(tmp)
        if out.exists():
            old = parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            try:
                os.replace(tmp, out)
            except BaseException:
                os.replace(old, out)  # the earlier contents stay where they were
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        for d in made:  # parents this call created, deepest first
            try:
                d.rmdir()
            except OSError:
                break
        raise
    return out
