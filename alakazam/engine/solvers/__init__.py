"""The registry of Jones solvers: one module per type, one interface.

A solver says on which frequency grid it accumulates statistics (`freq_axis`) and turns the
accumulated statistics of one field and SPW into a Solution (`solve`). Nothing else in the
engine switches on the Jones type.
"""

from __future__ import annotations

from alakazam.engine.solvers.delay import DelaySolver
from alakazam.engine.solvers.gain import GainSolver
from alakazam.engine.solvers.stefcal import REASONS

SOLVERS = {"K": DelaySolver(), "G": GainSolver(per_channel_default=False),
           "B": GainSolver(per_channel_default=True)}

__all__ = ["SOLVERS", "REASONS"]
