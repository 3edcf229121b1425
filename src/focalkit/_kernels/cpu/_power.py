"""Powers of non-negative tensors for the element-wise kernels."""

from __future__ import annotations

from torch import Tensor

from ..common import pow_gamma, pow_gamma_minus_one


def power(base: Tensor, gamma: float) -> Tensor | None:
    """``base ** gamma`` for ``base >= 0``; None for ``gamma = 0`` (a factor of 1).

    Small integer powers are products (``pow`` with a general exponent costs as much as ten
    multiplications on CPU); the others keep a finite gradient at 0 as ``pow_gamma`` does.
    """
    if gamma == 0.0:
        return None
    if gamma in (1.0, 2.0, 3.0, 4.0):
        square = base * base if gamma > 1.0 else base
        return square * square if gamma == 4.0 else square * base if gamma == 3.0 else square
    return pow_gamma(base, gamma)


def power_minus_one(base: Tensor, gamma: float) -> Tensor | None:
    """``base ** (gamma - 1)``, 0 where ``base = 0`` and ``gamma < 1``; None when it is 1."""
    if gamma.is_integer() and gamma >= 1.0:
        return power(base, gamma - 1.0)
    return pow_gamma_minus_one(base, gamma)
