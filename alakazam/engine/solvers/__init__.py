"""The registry of Jones solvers: one module per type, one interface.

A solver says which statistics it accumulates (`statistics`: CellStats of the parallel hands
for the diagonal K, G, B; PolStats of the full 2x2 visibilities for D, Xf, Kcross), on which
frequency grid (`freq_axis`), and turns the accumulated statistics of one field and SPW into a
Solution (`solve`). Nothing else in the
engine switches on the Jones type.
"""

from __future__ import annotations

from alakazam.engine.solvers.crosshand import CrossDelaySolver, CrossPhaseSolver
from alakazam.engine.solvers.delay import DelaySolver
from alakazam.engine.solvers.gain import GainSolver
from alakazam.engine.solvers.leakage import LeakageSolver
from alakazam.engine.solvers.stefcal import REASONS

SOLVERS = {"K": DelaySolver(), "G": GainSolver(per_channel_default=False),
           "B": GainSolver(per_channel_default=True), "D": LeakageSolver(),
           "Xf": CrossPhaseSolver(), "Kcross": CrossDelaySolver()}

__all__ = ["SOLVERS", "REASONS"]
