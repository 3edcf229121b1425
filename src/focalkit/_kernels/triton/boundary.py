r"""The lower envelope of parabolas of the distance transform, one line per lane (Triton).

For every line of a ``(B, L)`` float64 tensor :math:`f` (non-negative, ``inf`` allowed) the
kernel computes :math:`D(x) = \min_y f(y) + s^2 (x - y)^2` with the stack algorithm of
Felzenszwalb and Huttenlocher: a forward sweep keeps the parabolas of the lower envelope and
the points where one gives way to the next (popping those that a new parabola hides), and a
second sweep reads each position's value off the envelope. Each lane owns one line and its
stack (two scratch rows in global memory, which the cache keeps close); the pops run in a
loop until no lane of the program has one left. Everything is computed in float64, so the
result equals the plain composition's (:func:`focalkit._kernels.plain.boundary.lower_envelope`)
and SciPy's; the kernel reads nothing back to the host. :func:`lower_envelope` has the
interface of the plain one, so the distance transform takes either.

Traffic per element: ``f`` is read about three times (the sweep, the intersections, the
values) and the result written once, plus the stack (12 bytes per pushed parabola).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["BLOCK", "lower_envelope"]

#: Lines (lanes) per program.
BLOCK = 64


@triton.jit
def _envelope_kernel(f_ptr, out_ptr, v_ptr, z_ptr, s2_ptr, lines, length,
                     BLOCK: tl.constexpr):
    line = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    live = line < lines
    base = line * length
    s2 = tl.load(s2_ptr)
    zero = tl.zeros([BLOCK], dtype=tl.int64)
    top = zero - 1  # the stack's last entry, per lane
    for q in range(0, length):
        qi = zero + q
        qf = qi.to(tl.float64)
        fq = tl.load(f_ptr + base + q, mask=live, other=float("inf"))
        push = live & (fq < float("inf"))
        hq = fq + s2 * qf * qf
        cross = tl.zeros([BLOCK], dtype=tl.float64) - float("inf")
        search = push & (top >= 0)
        while tl.max(search.to(tl.int32), axis=0) > 0:
            at = tl.where(search, top, 0)
            v = tl.load(v_ptr + base + at, mask=search, other=0)
            vf = v.to(tl.float64)
            fv = tl.load(f_ptr + base + v, mask=search, other=0.0)
            z = tl.load(z_ptr + base + at, mask=search, other=0.0)
            s = (hq - (fv + s2 * vf * vf)) / (2.0 * s2 * (qf - vf))
            pop = search & (s <= z)
            cross = tl.where(search & ~pop, s, cross)
            top = tl.where(pop, top - 1, top)
            search = pop & (top >= 0)
        top = tl.where(push, top + 1, top)
        tl.store(v_ptr + base + top, qi, mask=push)
        tl.store(z_ptr + base + top, cross, mask=push)
    j = zero
    found = live & (top >= 0)
    for x in range(0, length):
        xf = (zero + x).to(tl.float64)
        more = found & (j < top)
        while tl.max(more.to(tl.int32), axis=0) > 0:
            ahead = tl.load(z_ptr + base + j + 1, mask=more, other=0.0)
            step = more & (ahead < xf)
            j = tl.where(step, j + 1, j)
            more = step & (j < top)
        v = tl.load(v_ptr + base + j, mask=found, other=0)
        fv = tl.load(f_ptr + base + v, mask=found, other=0.0)
        d = xf - v.to(tl.float64)
        value = tl.where(found, fv + s2 * d * d, float("inf"))
        tl.store(out_ptr + base + x, value, mask=live)


def lower_envelope(f: Tensor, spacing: float) -> Tensor:
    r""":math:`\min_y f(y) + s^2 (x - y)^2` along the last dimension of a ``(B, L)`` float64
    tensor (see the module docstring)."""
    f = f.contiguous()
    lines, length = f.shape
    out = torch.empty_like(f)
    if f.numel() == 0:
        return out
    stack = torch.empty(lines, length, dtype=torch.int64, device=f.device)
    bounds = torch.empty(lines, length, dtype=torch.float64, device=f.device)
    s2 = torch.full((1,), spacing * spacing, dtype=torch.float64, device=f.device)
    _envelope_kernel[(triton.cdiv(lines, BLOCK),)](f, out, stack, bounds, s2, lines, length,
                                                  BLOCK=BLOCK)
    return out
