r"""Triton kernels of the softmax focal loss over a linear layer.

The chunking is the blocked kernel's (:mod:`focalkit._kernels.blocked.linear`): the rows are
taken a chunk at a time, the chunk's logits :math:`z = x_r W^\top + b` come from one matrix
product (cuBLAS on CUDA), and the gradients :math:`G W` and :math:`G^\top x_r` from two more.
A chunk always holds every class. Two kernels replace the element-wise passes over it:

* ``_stats_kernel``: per row, the largest logit :math:`M` and :math:`\log S`,
  :math:`S = \sum_c e^{z_c - M}` (one sweep over class tiles with an online maximum and sum),
  the target logit, and with label smoothing a second sweep for :math:`\sum_c \alpha_c f_c`
  and :math:`\sum_c k_c` (the focal and Poly-1 terms of every class and their coefficients);
* ``_grad_kernel``: the logit gradient :math:`G = a\,p - b\,[j = t] - s\,k_j`, written over
  the logits in place, from the per-row coefficients :math:`a, b, s` that
  :func:`focalkit._kernels.blocked.linear.row_terms` computes from the statistics.

No host synchronisation: ignored rows are kept and given zero coefficients. Half inputs are
computed in float32 (the chunk's logits, the products and the accumulated gradients), float64
in float64.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..blocked.linear import (
    Chunk,
    Plan,
    accumulate,
    apply,
    row_terms,
)
from ..plain.linear import LinearSoftmaxFocalOptions as Options
from .softmax import _focal_terms, _one_minus_exp, _online_logsumexp, _split

__all__ = ["CHUNK", "linear_softmax_focal_loss"]

#: Most logits in one chunk: 32 Mi, 128 MiB of float32.
CHUNK = 1 << 25
#: Most elements in one ``[BLOCK_R, BLOCK_C]`` tile, and the widest class tile.
TILE = 4096
CLASS_TILE = 4096


@triton.jit
def _power(m, gamma, GAMMA_KIND: tl.constexpr):
    """:math:`m^\\gamma` for :math:`m \\ge 0` (0 at :math:`m = 0` for any gamma > 0)."""
    if GAMMA_KIND == 0:
        out = tl.zeros_like(m) + 1.0
    elif GAMMA_KIND == 1:
        out = m
    elif GAMMA_KIND == 2:
        out = m * m
    else:
        positive = m > 0.0
        out = tl.where(positive, tl.exp2(gamma * tl.log2(tl.where(positive, m, 1.0))), 0.0)
    return out


@triton.jit
def _class_terms(log_p, alpha_c, gamma, eps, GAMMA_KIND: tl.constexpr,
                 HAS_ALPHA: tl.constexpr, HAS_POLY: tl.constexpr, TERMS: tl.constexpr):
    """Focal plus Poly-1 term of every class and its coefficient :math:`k` (see
    :func:`focalkit._kernels.plain.focal.focal_poly_terms`)."""
    term, coeff = _focal_terms(log_p, alpha_c, gamma, GAMMA_KIND, HAS_ALPHA, TERMS)
    if HAS_POLY:
        m = _one_minus_exp(log_p, TERMS)
        mod = _power(m, gamma, GAMMA_KIND)
        poly = eps * mod * m
        slope = eps * (gamma + 1.0) * mod * tl.exp(log_p)
        if HAS_ALPHA:
            poly = poly * alpha_c
            slope = slope * alpha_c
        term = term + poly
        coeff = coeff + slope
    return term, coeff


@triton.jit
def _alpha_tile(alpha_ptr, cols, inside, like, HAS_ALPHA: tl.constexpr, ACC: tl.constexpr):
    if HAS_ALPHA:
        alpha_c = tl.load(alpha_ptr + cols, mask=inside, other=0.0).to(ACC)[None, :]
    else:
        alpha_c = like
    return alpha_c


@triton.jit
def _stats_kernel(z_ptr, t_ptr, alpha_ptr, stats_ptr, rows, C, szr, gamma_hi, gamma_lo,
                  eps_hi, eps_lo, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr,
                  SMOOTH: tl.constexpr, HAS_ALPHA: tl.constexpr, HAS_POLY: tl.constexpr,
                  GAMMA_KIND: tl.constexpr, ACC: tl.constexpr, TERMS: tl.constexpr):
    pid = tl.program_id(0)
    r = pid.to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    in_range = r < rows
    base = r * szr
    high, log_total = _online_logsumexp(z_ptr, base, 1, in_range, C, BLOCK_R, BLOCK_C, ACC)
    t = tl.load(t_ptr + r, mask=in_range, other=0).to(tl.int64)
    z_t = tl.load(z_ptr + base + t, mask=in_range, other=0.0).to(ACC)
    tl.store(stats_ptr + r, high, mask=in_range)
    tl.store(stats_ptr + rows + r, log_total, mask=in_range)
    tl.store(stats_ptr + 2 * rows + r, z_t, mask=in_range)
    if SMOOTH:
        gamma = (tl.zeros([], ACC) + gamma_hi) + gamma_lo
        eps = (tl.zeros([], ACC) + eps_hi) + eps_lo
        term_sum = tl.zeros([BLOCK_R], ACC)
        coeff_sum = tl.zeros([BLOCK_R], ACC)
        for c0 in range(0, C, BLOCK_C):
            cols = c0 + tl.arange(0, BLOCK_C)
            inside = cols < C
            mask = in_range[:, None] & inside[None, :]
            z = tl.load(z_ptr + base[:, None] + cols[None, :], mask=mask, other=0.0).to(ACC)
            log_p = (z - high[:, None]) - log_total[:, None]
            alpha_c = _alpha_tile(alpha_ptr, cols, inside, log_p, HAS_ALPHA, ACC)
            term, coeff = _class_terms(log_p, alpha_c, gamma, eps, GAMMA_KIND, HAS_ALPHA,
                                       HAS_POLY, TERMS)
            term_sum += tl.sum(tl.where(mask, term, 0.0), axis=1)
            coeff_sum += tl.sum(tl.where(mask, coeff, 0.0), axis=1)
        tl.store(stats_ptr + 3 * rows + r, term_sum, mask=in_range)
        tl.store(stats_ptr + 4 * rows + r, coeff_sum, mask=in_range)


@triton.jit
def _grad_kernel(z_ptr, t_ptr, alpha_ptr, high_ptr, log_total_ptr, a_ptr, b_ptr, s_ptr, rows,
                 C, szr, gamma_hi, gamma_lo, eps_hi, eps_lo, BLOCK_R: tl.constexpr,
                 BLOCK_C: tl.constexpr, SMOOTH: tl.constexpr, HAS_ALPHA: tl.constexpr,
                 HAS_POLY: tl.constexpr, GAMMA_KIND: tl.constexpr, ACC: tl.constexpr,
                 TERMS: tl.constexpr):
    pid = tl.program_id(0)
    r = pid.to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    in_range = r < rows
    base = r * szr
    t = tl.load(t_ptr + r, mask=in_range, other=0).to(tl.int64)
    high = tl.load(high_ptr + r, mask=in_range, other=0.0).to(ACC)
    log_total = tl.load(log_total_ptr + r, mask=in_range, other=0.0).to(ACC)
    a = tl.load(a_ptr + r, mask=in_range, other=0.0).to(ACC)
    b = tl.load(b_ptr + r, mask=in_range, other=0.0).to(ACC)
    gamma = (tl.zeros([], ACC) + gamma_hi) + gamma_lo
    eps = (tl.zeros([], ACC) + eps_hi) + eps_lo
    if SMOOTH:
        s = tl.load(s_ptr + r, mask=in_range, other=0.0).to(ACC)
    for c0 in range(0, C, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        inside = cols < C
        mask = in_range[:, None] & inside[None, :]
        offsets = base[:, None] + cols[None, :]
        z = tl.load(z_ptr + offsets, mask=mask, other=0.0).to(ACC)
        log_p = (z - high[:, None]) - log_total[:, None]
        grad = a[:, None] * tl.exp(log_p) - tl.where(cols[None, :] == t[:, None],
                                                     b[:, None], 0.0)
        if SMOOTH:
            alpha_c = _alpha_tile(alpha_ptr, cols, inside, log_p, HAS_ALPHA, ACC)
            _, coeff = _class_terms(log_p, alpha_c, gamma, eps, GAMMA_KIND, HAS_ALPHA,
                                    HAS_POLY, TERMS)
            grad = grad - s[:, None] * coeff
        tl.store(z_ptr + offsets, grad, mask=mask)


def _launch(z: Tensor) -> tuple[int, dict]:
    """Programs and tile arguments for a chunk of logits ``z`` ``(R, C)``."""
    rows, classes = z.shape
    block_c = min(triton.next_power_of_2(max(classes, 1)), CLASS_TILE)
    block_r = max(1, min(TILE // block_c, triton.next_power_of_2(max(rows, 1))))
    return triton.cdiv(rows, block_r), dict(BLOCK_R=block_r, BLOCK_C=block_c,
                                            num_warps=8 if block_r * block_c >= 4096 else 4)


def _options(dtype: torch.dtype, alpha: Tensor | None, opts: Options) -> dict:
    """Constexpr and scalar arguments shared by the kernels."""
    return dict(**_split("gamma", opts.gamma), **_split("eps", opts.epsilon),
                SMOOTH=opts.label_smoothing != 0.0, HAS_ALPHA=alpha is not None,
                HAS_POLY=opts.epsilon != 0.0,
                GAMMA_KIND={0.0: 0, 1.0: 1, 2.0: 2}.get(opts.gamma, 3),
                ACC=tl.float64 if dtype == torch.float64 else tl.float32,
                TERMS=17 if dtype == torch.float64 else 9)


class TritonChunk(Chunk):
    """A chunk whose passes over the logits are the two Triton kernels."""

    @staticmethod
    def compacts(x: Tensor) -> bool:
        return False

    @staticmethod
    def plan(rows: int, classes: int, chunk_size: int | None) -> Plan:
        step = chunk_size if chunk_size is not None else max(1, CHUNK // max(classes, 1))
        return Plan(max(1, min(step, rows)), classes)

    def _kernel_args(self, z: Tensor) -> tuple[int, dict]:
        programs, tiles = _launch(z)
        return programs, dict(**tiles, **_options(self.ops.dtype, self.ops.alpha, self.opts))

    def _alpha(self, z: Tensor) -> Tensor:
        return z if self.ops.alpha is None else self.ops.alpha

    def statistics(self, with_grad: bool, factor: Tensor | None = None):
        z = self.logits(0)
        rows = z.shape[0]
        stats = torch.empty((5 if self.smoothing else 3, rows), dtype=z.dtype, device=z.device)
        programs, args = self._kernel_args(z)
        if rows:
            _stats_kernel[(programs,)](z, self.t, self._alpha(z), stats, rows, self.classes,
                                       z.stride(0), **args)
        high, log_total, z_t = stats[0], stats[1], stats[2]
        term_sum, coeff_sum = (stats[3], stats[4]) if self.smoothing else (None, None)
        lse = high + log_total
        log_pt = (z_t - high) - log_total
        loss, a, b = row_terms(log_pt, lse, self.alpha_t(), term_sum, coeff_sum, self.keep,
                               self.opts, self.classes, with_grad)
        self.state = (z, high, log_total)
        return loss, lse, a, b

    def gradient(self, lse: Tensor, a: Tensor, b: Tensor, factor: Tensor, grads) -> None:
        if self.state is not None:
            z, high, log_total = self.state
            self.state = None
        else:
            z = self.logits(0)
            high, log_total = lse, torch.zeros_like(lse)
        rows = z.shape[0]
        smooth = self.opts.label_smoothing / self.classes * factor.expand(rows)
        if self.keep is not None:
            smooth = torch.where(self.keep, smooth, 0.0)
        programs, args = self._kernel_args(z)
        if rows:
            _grad_kernel[(programs,)](z, self.t, self._alpha(z), high, log_total,
                                      (a * factor).expand(rows).contiguous(),
                                      (b * factor).expand(rows).contiguous(),
                                      smooth.contiguous(), rows, self.classes, z.stride(0),
                                      **args)
        accumulate(z, self.x, self.ops.weight, self.slice, 0, self.classes, grads, True)


def linear_softmax_focal_loss(x: Tensor, target: Tensor, options: Options) -> Tensor:
    """Softmax focal loss of ``x @ weight.T + bias``; see
    :func:`focalkit.functional.linear_softmax_focal_loss`."""
    return apply(TritonChunk, x, target, options)
