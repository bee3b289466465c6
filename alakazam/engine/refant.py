"""Reference antennas: the user's preference list, then the `auto` ranking.

`auto` ranks antennas as the ALMA pipeline's refant heuristic does: a flagging score (the
fraction of unflagged data the antenna has in the solve) plus a geometric score (closeness to
the array centre), both in [0, 1]. The effective order is the user's list followed by every
other antenna in `auto` order, so a cell whose preferred antenna has no solution falls back
to the next one (and records which it used).
"""

from __future__ import annotations

import numpy as np

from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import MSMeta


def resolve_antennas(meta: MSMeta, spec: tuple, key: str) -> tuple[int, ...]:
    """Antenna ids of a ref_ant list (names or ids); `auto` entries are skipped."""
    names = {n: i for i, n in enumerate(meta.antennas.names)}
    lower = {n.lower(): i for i, n in enumerate(meta.antennas.names)}
    out = []
    for item in spec:
        if isinstance(item, str) and item.lower() == "auto":
            continue
        if isinstance(item, str) and item in names:
            out.append(names[item])
        elif isinstance(item, str) and item.lower() in lower:
            out.append(lower[item.lower()])
        elif isinstance(item, int) or (isinstance(item, str) and item.isdigit()):
            if not 0 <= int(item) < len(meta.antennas):
                raise InputError(f"{key}: antenna id {item} is not in {meta.path} "
                                 f"(ids 0..{len(meta.antennas) - 1})")
            out.append(int(item))
        else:
            raise InputError(f"{key}: {item!r} is not an antenna of {meta.path} "
                             f"(antennas: {', '.join(meta.antennas.names)})")
    return tuple(dict.fromkeys(out))


def ref_order(meta: MSMeta, spec: tuple, counts: np.ndarray) -> np.ndarray:
    """(n_ant,) antenna ids in reference preference order; counts: (n_ant,) unflagged samples
    of each antenna in the solve."""
    pos = meta.antennas.positions
    dist = np.linalg.norm(pos - pos.mean(axis=0), axis=1)
    geometric = 1 - dist / dist.max() if dist.max() > 0 else np.ones(len(pos))
    flagging = counts / counts.max() if counts.max() > 0 else np.zeros(len(pos))
    auto = np.argsort(-(geometric + flagging), kind="stable")
    preferred = list(resolve_antennas(meta, spec, "ref_ant"))
    return np.array(preferred + [a for a in auto if a not in preferred], dtype=np.int64)
