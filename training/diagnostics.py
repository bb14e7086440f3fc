"""Loss health of a BCE GAN, read the way the reference recipe reads it (docs/REFERENCE.md, R8).

With BCE-with-logits, an undecided discriminator (σ = 0.5 everywhere) scores ln 4 ≈ 1.386 and
the generator ln 2 ≈ 0.693. The states worth flagging, judged on the mean of the last
``window`` epochs:

* ``d_wins``  — D-loss near 0 while G-loss is high: D separates perfectly, G gets no gradient.
* ``g_wins``  — G-loss near 0 while D-loss is high: D cannot keep up; G may be collapsing.
* ``stuck``   — both pinned at (1.386, 0.693): a no-learning equilibrium (or too low rates).
* ``healthy`` — anything else.

``d_wins`` and ``g_wins`` are collapses (a run may stop, a trial may be pruned); ``stuck`` is
only reported, since slow starts sit there for a while.
"""

from __future__ import annotations

import math

__all__ = ["diagnose", "COLLAPSES", "LN4", "LN2"]

LN4, LN2 = math.log(4.0), math.log(2.0)
COLLAPSES = ("d_wins", "g_wins")


def diagnose(history: list[dict], *, window: int = 3, tol: float = 0.01) -> str:
    """``healthy``, ``d_wins``, ``g_wins`` or ``stuck`` from per-epoch ``d_loss`` / ``g_loss``."""
    if len(history) < window:
        return "healthy"
    recent = history[-window:]
    d = sum(h["d_loss"] for h in recent) / window
    g = sum(h["g_loss"] for h in recent) / window
    if d < 0.1 and g > 3.0:
        return "d_wins"
    if g < 0.3 and d > 1.0:
        return "g_wins"
    if abs(d - LN4) < tol and abs(g - LN2) < tol:
        return "stuck"
    return "healthy"
