"""Saved copies of an MS's FLAG and FLAG_ROW columns, as CASA's .flagversions are.

A version is a casacore table MS.flagversions/<name> holding the two columns row for row.
Saving never overwrites an existing version (the first save keeps the original flags), and
is written under a temporary name and renamed.
"""

from __future__ import annotations

import os
import shutil

from casacore import tables

from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import open_table

_CHUNK = 100_000


def version_path(ms: str, name: str) -> str:
    return os.path.join(f"{os.path.normpath(ms)}.flagversions", name)


def list_versions(ms: str) -> list[str]:
    folder = f"{os.path.normpath(ms)}.flagversions"
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def save(ms: str, name: str) -> bool:
    """Save FLAG and FLAG_ROW as version `name` unless it exists; True if saved now."""
    path = version_path(ms, name)
    if os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.partial-{os.getpid()}"
    main = open_table(ms)
    try:
        desc = tables.maketabdesc([tables.makecoldesc("FLAG", main.getcoldesc("FLAG")),
                                   tables.makecoldesc("FLAG_ROW", main.getcoldesc("FLAG_ROW"))])
        with tables.table(tmp, desc, nrow=main.nrows(), ack=False) as copy:
            _copy(main, copy)
        os.replace(tmp, path)
    finally:
        main.close()
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    return True


def restore(ms: str, name: str) -> None:
    """Put version `name` back into the MS's FLAG and FLAG_ROW."""
    path = version_path(ms, name)
    if not os.path.exists(path):
        have = ", ".join(list_versions(ms)) or "none"
        raise InputError(f"{ms}: no flag version {name!r} (versions: {have})")
    main = open_table(ms, readonly=False)
    try:
        with tables.table(path, ack=False) as saved:
            if saved.nrows() != main.nrows():
                raise InputError(f"{path}: {saved.nrows()} rows, the MS has {main.nrows()}")
            _copy(saved, main)
    finally:
        main.close()


def _copy(src, dst) -> None:
    for start in range(0, src.nrows(), _CHUNK):
        n = min(_CHUNK, src.nrows() - start)
        for col in ("FLAG", "FLAG_ROW"):
            dst.putcol(col, src.getcol(col, startrow=start, nrow=n), startrow=start, nrow=n)
