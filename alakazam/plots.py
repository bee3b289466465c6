"""Terminal plots of solutions: the series to draw, and drawing them with plotext.

`series` turns a Solution into labelled (x, y, flagged) curves; `draw` draws them on a plotext
figure (the module `plotext` or a textual-plotext widget's `plt`), so that `alakazam plot` and
the TUI show the same thing. Flagged solutions are drawn as red x at their stored value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from alakazam.engine.errors import InputError
from alakazam.engine.solution import Solution
from alakazam.engine.store import file_attrs, read_solutions

QUANTITIES = ("amp", "phase", "delay", "leakage", "real", "imag")
AXES = ("time", "freq")
UNITS = {"amp": "", "phase": "deg", "delay": "ns", "leakage": "", "real": "", "imag": ""}


@dataclass(frozen=True)
class Series:
    """One curve: x (n,) (minutes from the first solution, or MHz), y (n,), flagged (n,)."""

    label: str
    x: np.ndarray
    y: np.ndarray
    flagged: np.ndarray


def series(sol: Solution, quantity: str, axis: str, antennas, receptors=(0, 1),
           antenna_names=None, receptor_names=("X", "Y")) -> list[Series]:
    """Curves of `quantity` against `axis` for each antenna and receptor: the diagonal Jones
    entries, or for D the leakages d_pq and d_qp (labelled XY, YX; `leakage` is their
    amplitude), for delay the K delays or
    the Kcross delay (on receptor 2). Against time, one curve per frequency cell is averaged
    away by taking the middle cell; against frequency, the middle time cell."""
    if quantity not in QUANTITIES:
        raise InputError(f"quantity {quantity!r}: one of {', '.join(QUANTITIES)}")
    if axis not in AXES:
        raise InputError(f"axis {axis!r}: one of {', '.join(AXES)}")
    if quantity == "delay" and not has_delays(sol):
        raise InputError(f"quantity delay: {sol.jones_type} solutions have no delays "
                         "(K and Kcross have)")
    leak = sol.jones_type == "D"  # D: the off-diagonal d_pq (receptor 1 row), d_qp (2)
    if quantity == "leakage" and not leak:
        raise InputError(f"quantity leakage: {sol.jones_type} solutions have no leakages (D has)")
    names = antenna_names or [str(a) for a in range(sol.n_ant)]
    out = []
    for ant in antennas:
        for r in receptors:
            label = receptor_names[r] + receptor_names[1 - r] if leak else receptor_names[r]
            if quantity == "delay":
                y = (sol.native["delay"][:, ant, r] if "delay" in sol.native
                     else sol.native["delay_pq"] * r)  # Kcross: receptor 2 relative to 1
                flagged = sol.flags[:, 0, ant]
                x = (sol.time - sol.time[0]) / 60.0
            else:
                values = sol.jones[..., ant, r, 1 - r if leak else r]  # (n_t, n_f)
                flags = sol.flags[..., ant]
                if axis == "time":
                    mid = values.shape[1] // 2
                    values, flags, x = values[:, mid], flags[:, mid], (sol.time - sol.time[0]) / 60
                else:
                    mid = values.shape[0] // 2
                    values, flags, x = values[mid], flags[mid], sol.freq / 1e6
                y = {"amp": np.abs, "leakage": np.abs, "real": np.real, "imag": np.imag,
                     "phase": lambda v: np.degrees(np.angle(v))}[quantity](values)
                flagged = flags
            out.append(Series(f"{names[ant]} {label}", np.asarray(x, float),
                              np.asarray(y, float), np.asarray(flagged, bool)))
    return out


def has_delays(sol: Solution) -> bool:
    """Whether a table stores delays (K per antenna and receptor, Kcross one for all)."""
    return bool({"delay", "delay_pq"} & set(sol.native))


def draw(plt, curves: list[Series], title: str, axis: str, quantity: str) -> None:
    """Draw curves of `quantity` against `axis` on a plotext-like object (its data cleared
    first, its other settings kept); phases on a fixed -180..180 deg scale."""
    plt.clear_data()
    for c in curves:
        good = ~c.flagged
        if good.any():
            plt.plot(c.x[good].tolist(), c.y[good].tolist(), label=c.label, marker="braille")
        if c.flagged.any():
            plt.scatter(c.x[c.flagged].tolist(), c.y[c.flagged].tolist(), marker="x", color="red")
    plt.title(title)
    plt.xlabel(axis_label(axis))
    plt.ylabel(f"{quantity} {UNITS[quantity]}".strip())
    plt.ylim(*((-180, 180) if quantity == "phase" else (None, None)))


@dataclass(frozen=True)
class SolutionFile:
    """A solution file's tables with the names to label them: antenna_names (n_ant,),
    receptor_names ("X", "Y") or ("R", "L")."""

    path: str
    solutions: list[Solution]
    antenna_names: list[str]
    receptor_names: tuple[str, str]


def load(path: str) -> SolutionFile:
    """Read every table of a solution file, and its antenna names and feed basis."""
    solutions = read_solutions(path)
    root = file_attrs(path)
    names = json.loads(root.get("antenna_names", "[]"))
    basis = str(root.get("feed_basis", "LINEAR"))
    n_ant = max((s.n_ant for s in solutions), default=0)
    return SolutionFile(path, solutions, names or [str(a) for a in range(n_ant)],
                        ("X", "Y") if basis == "LINEAR" else ("R", "L"))


def axis_label(axis: str) -> str:
    return "minutes from first solution" if axis == "time" else "frequency (MHz)"


def pick(solutions: list[Solution], jones=None, field=None, spw=None) -> Solution:
    """The solution table matching the given Jones type, field name and SPW (the first of
    each when not given); an InputError lists what the file holds otherwise."""
    found = [s for s in solutions if (jones is None or s.jones_type == jones)
             and (field is None or s.field_name == field) and (spw is None or s.spw_id == spw)]
    if not found:
        have = ", ".join(sorted({f"{s.jones_type}/{s.field_name}/spw {s.spw_id}" for s in solutions}))
        raise InputError(f"no solutions for jones={jones} field={field} spw={spw} "
                         f"(the file has {have})")
    return sorted(found, key=lambda s: (s.jones_type, s.field_name, s.spw_id))[0]


def select_antennas(spec, names: list[str]) -> list[int]:
    """Antenna ids from a comma-separated list of names or ids (None: all)."""
    if spec is None:
        return list(range(len(names)))
    out = []
    for item in str(spec).split(","):
        item = item.strip()
        if item in names:
            out.append(names.index(item))
        elif item.isdigit() and int(item) < len(names):
            out.append(int(item))
        else:
            raise InputError(f"antenna {item!r}: not one of {', '.join(names)}")
    return out
