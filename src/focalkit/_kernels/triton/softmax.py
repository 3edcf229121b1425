r"""Fused Triton kernels of the softmax focal loss with class-index targets.

The logits are read through the strides of their ``(N, C, P)`` view (``P`` the product of the
spatial sizes), so that ``(N, C)``, ``(N, C, *)`` and channels-last inputs are used in place;
an input whose dimensions cannot be merged into that view without a copy (a slice with gaps
between the spatial dimensions) is made contiguous once. Every program takes a tile of
``BLOCK_P`` positions and walks the classes in tiles of ``BLOCK_C``, keeping an online maximum
and sum of exponentials per position, so that any number of classes fits in registers. The
tile shape follows the layout: when the classes are contiguous in memory (``(N, C)`` inputs,
channels-last), few positions and wide class tiles; when the positions are (``NCHW``), many
positions and narrow class tiles.

Per position, with :math:`M` the row maximum and :math:`S = \sum_c e^{x_c - M}`:

.. math::
    \log p_t = (x_t - M) - \log S, \qquad
    \ell = -\alpha_t\,(1 - p_t)^\gamma \log p_t, \qquad
    \frac{\partial \ell}{\partial x_j} = G\,\bigl(e^{(x_j - M) - \log S} - [j = t]\bigr)

with :math:`G = \alpha_t\left((1-p_t)^\gamma - \gamma\,(1-p_t)^{\gamma-1} p_t \log p_t\right)`
and :math:`1 - p_t` evaluated without cancellation as :math:`p_t \to 1`. Keeping :math:`M` and
:math:`\log S` apart, rather than their sum, keeps the gradient as accurate as
``log_softmax``'s for logits of any magnitude.

Float32, float16 and bfloat16 inputs are computed in float32, float64 inputs in float64; the
loss and the gradient take the input's dtype.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import triton
import triton.language as tl
from torch import Tensor

from ..._tensor import compute_dtype, ignore_mask
from ..plain.focal import focal_index_terms, softmax_focal_index_grad

__all__ = ["softmax_focal_loss", "softmax_focal_loss_soft"]

#: Most elements in one ``[BLOCK_P, BLOCK_C]`` tile.
TILE = 4096
#: Widest class tile when the classes are contiguous in memory.
CLASS_TILE = 4096
#: Widest class tile when the positions are contiguous in memory.
NARROW_CLASS_TILE = 32


@triton.jit
def _one_minus_exp(z, TERMS: tl.constexpr):
    """:math:`1 - e^z = -\\mathrm{expm1}(z)` for :math:`z \\le 0`, accurate near 0.

    Near 0 a Taylor polynomial of ``TERMS`` terms in Horner form (truncation below the
    rounding error of the compute dtype for :math:`z > -1/2`); below, ``1 - exp(z)`` loses
    at most a few units in the last place, since the result is then above 0.39.
    """
    poly = tl.zeros_like(z) + 1.0
    for k in tl.static_range(TERMS, 1, -1):
        poly = 1.0 + poly * z * (1.0 / k)
    return tl.where(z > -0.5, -z * poly, 1.0 - tl.exp(z))


@triton.jit
def _focal_terms(log_pt, alpha_t, gamma, GAMMA_KIND: tl.constexpr, HAS_ALPHA: tl.constexpr,
                 TERMS: tl.constexpr):
    """The loss and the gradient coefficient ``G`` of every position from :math:`\\log p_t`.

    ``GAMMA_KIND``: 0, 1 and 2 for those values of gamma, 3 for any other. At
    :math:`\\log p_t = -\\infty` the loss is infinite and ``G`` takes its limit
    :math:`\\alpha_t`.
    """
    m = _one_minus_exp(log_pt, TERMS)
    if GAMMA_KIND == 0:
        loss = -log_pt
        coeff = tl.zeros_like(log_pt) + 1.0
    else:
        # p_t log p_t, with its limit 0 at log p_t = -inf (a -inf logit)
        p_log_p = tl.where(log_pt > float("-inf"), tl.exp(log_pt) * log_pt, 0.0)
        if GAMMA_KIND == 1:
            loss = -m * log_pt
            coeff = m - p_log_p
        elif GAMMA_KIND == 2:
            loss = -(m * m) * log_pt
            coeff = m * (m - 2.0 * p_log_p)
        else:
            positive = m > 0.0
            log2_m = tl.log2(tl.where(positive, m, 1.0))
            mod = tl.where(positive, tl.exp2(gamma * log2_m), 0.0)
            mod_d = tl.where(positive, tl.exp2((gamma - 1.0) * log2_m), 0.0)
            loss = -mod * log_pt
            coeff = mod - gamma * mod_d * p_log_p
    if HAS_ALPHA:
        loss = loss * alpha_t
        coeff = coeff * alpha_t
    return loss, coeff


@triton.jit
def _rows(pid, t_ptr, alpha_ptr, rows, P, blocks, stn, stp, ignore_index,
          BLOCK_P: tl.constexpr, PER_IMAGE: tl.constexpr, HAS_IGNORE: tl.constexpr,
          HAS_ALPHA: tl.constexpr, ACC: tl.constexpr, HAS_TARGET: tl.constexpr = True):
    """Positions of program ``pid``: (flat index, sample, position, in range, kept, safe
    target, alpha_t). Without ``HAS_TARGET`` (probability targets) the target is 0.

    With ``PER_IMAGE`` a program takes ``BLOCK_P`` consecutive positions of one sample
    (``blocks`` programs per sample), so that the compiler sees them contiguous; otherwise
    ``BLOCK_P`` consecutive rows of the flattened ``(N * P)`` positions.
    """
    if PER_IMAGE:
        n = (pid // blocks).to(tl.int64)
        p = (pid % blocks).to(tl.int64) * BLOCK_P + tl.arange(0, BLOCK_P)
        in_range = p < P
        r = n * P + p
    else:
        r = pid.to(tl.int64) * BLOCK_P + tl.arange(0, BLOCK_P)
        in_range = r < rows
        n = r // P
        p = r - n * P
    if HAS_TARGET:
        t = tl.load(t_ptr + n * stn + p * stp, mask=in_range, other=0)
    else:
        t = tl.zeros([BLOCK_P], tl.int64)
    keep = in_range
    if HAS_IGNORE:
        keep = keep & (t != ignore_index)
    t = tl.where(keep, t, 0).to(tl.int64)
    if HAS_ALPHA:
        alpha_t = tl.load(alpha_ptr + t, mask=keep, other=0.0).to(ACC)
    else:
        alpha_t = tl.zeros([BLOCK_P], ACC)
    return r, n, p, in_range, keep, t, alpha_t


@triton.jit
def _online_logsumexp(x_ptr, base, sxc, keep, C, BLOCK_P: tl.constexpr,
                      BLOCK_C: tl.constexpr, ACC: tl.constexpr):
    """The largest logit M and log S, S = sum_c exp(x_c - M), of each row of the tile, in one
    loop over class tiles with an online max and sum (no softmax in memory)."""
    high = tl.full([BLOCK_P], float("-inf"), ACC)
    total = tl.zeros([BLOCK_P], ACC)
    for c0 in range(0, C, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        inside = cols < C
        x = tl.load(x_ptr + base[:, None] + cols[None, :].to(tl.int64) * sxc,
                    mask=keep[:, None] & inside[None, :], other=0.0).to(ACC)
        x = tl.where(inside[None, :], x, float("-inf"))
        new_high = tl.maximum(high, tl.max(x, axis=1))
        # A row whose logits so far are all -inf: shift by 0, not by -inf (no inf - inf).
        shift = tl.where(new_high == float("-inf"), 0.0, new_high)
        total = total * tl.exp(high - shift) + tl.sum(tl.exp(x - shift[:, None]), axis=1)
        high = new_high
    return high, tl.log(total)


@triton.jit
def _forward_kernel(x_ptr, t_ptr, alpha_ptr, loss_ptr, stats_ptr, part_ptr, count_ptr,
                    rows, C, P, blocks, sxn, sxc, sxp, stn, stp, ignore_index, gamma_hi,
                    gamma_lo, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr,
                    PER_IMAGE: tl.constexpr, HAS_IGNORE: tl.constexpr,
                    HAS_ALPHA: tl.constexpr, GAMMA_KIND: tl.constexpr, REDUCE: tl.constexpr,
                    SAVE: tl.constexpr, ACC: tl.constexpr, TERMS: tl.constexpr):
    pid = tl.program_id(0)
    r, n, p, in_range, keep, t, alpha_t = _rows(pid, t_ptr, alpha_ptr, rows, P, blocks, stn,
                                                stp, ignore_index, BLOCK_P, PER_IMAGE,
                                                HAS_IGNORE, HAS_ALPHA, ACC)
    base = n * sxn + p * sxp
    high, log_total = _online_logsumexp(x_ptr, base, sxc, keep, C, BLOCK_P, BLOCK_C, ACC)
    x_t = tl.load(x_ptr + base + t * sxc, mask=keep, other=0.0).to(ACC)
    log_pt = tl.where(keep, (x_t - high) - log_total, 0.0)
    gamma = (tl.zeros([], ACC) + gamma_hi) + gamma_lo
    loss, _ = _focal_terms(log_pt, alpha_t, gamma, GAMMA_KIND, HAS_ALPHA, TERMS)
    loss = tl.where(keep, loss, 0.0)
    if REDUCE:
        tl.store(part_ptr + pid, tl.sum(loss, axis=0))
        tl.store(count_ptr + pid, tl.sum(keep.to(tl.int32), axis=0))
    else:
        tl.store(loss_ptr + r, loss, mask=in_range)
    if SAVE:
        tl.store(stats_ptr + r, high, mask=in_range)
        tl.store(stats_ptr + rows + r, log_total, mask=in_range)


@triton.jit
def _backward_kernel(x_ptr, t_ptr, alpha_ptr, stats_ptr, go_ptr, count_ptr, grad_ptr,
                     rows, C, P, blocks, sxn, sxc, sxp, stn, stp, sgn, sgc, sgp, son, sop,
                     ignore_index, gamma_hi, gamma_lo,
                     BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr, PER_IMAGE: tl.constexpr,
                     HAS_IGNORE: tl.constexpr, HAS_ALPHA: tl.constexpr,
                     GAMMA_KIND: tl.constexpr, MEAN: tl.constexpr, ACC: tl.constexpr,
                     TERMS: tl.constexpr):
    pid = tl.program_id(0)
    r, n, p, in_range, keep, t, alpha_t = _rows(pid, t_ptr, alpha_ptr, rows, P, blocks, stn,
                                                stp, ignore_index, BLOCK_P, PER_IMAGE,
                                                HAS_IGNORE, HAS_ALPHA, ACC)
    base = n * sxn + p * sxp
    high = tl.load(stats_ptr + r, mask=keep, other=0.0)
    log_total = tl.load(stats_ptr + rows + r, mask=keep, other=0.0)
    x_t = tl.load(x_ptr + base + t * sxc, mask=keep, other=0.0).to(ACC)
    log_pt = tl.where(keep, (x_t - high) - log_total, 0.0)
    gamma = (tl.zeros([], ACC) + gamma_hi) + gamma_lo
    _, coeff = _focal_terms(log_pt, alpha_t, gamma, GAMMA_KIND, HAS_ALPHA, TERMS)
    scale = tl.load(go_ptr + n * son + p * sop, mask=keep, other=0.0).to(ACC)
    if MEAN:
        count = tl.load(count_ptr).to(ACC)
        scale = scale / tl.maximum(count, 1.0)
    coeff = coeff * scale
    grad_base = n * sgn + p * sgp
    for c0 in range(0, C, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        inside = cols < C
        mask = in_range[:, None] & inside[None, :]
        x = tl.load(x_ptr + base[:, None] + cols[None, :].to(tl.int64) * sxc,
                    mask=keep[:, None] & inside[None, :], other=0.0).to(ACC)
        soft = tl.exp((x - high[:, None]) - log_total[:, None])
        hot = tl.where(cols[None, :] == t[:, None], 1.0, 0.0)
        grad = tl.where(keep[:, None], coeff[:, None] * (soft - hot), 0.0)
        tl.store(grad_ptr + grad_base[:, None] + cols[None, :].to(tl.int64) * sgc, grad,
                 mask=mask)


@triton.jit
def _soft_forward_kernel(x_ptr, t_ptr, q_ptr, alpha_ptr, loss_ptr, stats_ptr, part_ptr,
                         count_ptr, rows, C, P, blocks, sxn, sxc, sxp, stn, stp, sqn, sqc, sqp,
                         ignore_index, gamma_hi, gamma_lo, eps_hi, eps_lo,
                         BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr, PER_IMAGE: tl.constexpr,
                         IS_INDEX: tl.constexpr, HAS_IGNORE: tl.constexpr,
                         HAS_ALPHA: tl.constexpr, GAMMA_KIND: tl.constexpr,
                         REDUCE: tl.constexpr, SAVE: tl.constexpr, ACC: tl.constexpr,
                         TERMS: tl.constexpr):
    pid = tl.program_id(0)
    r, n, p, in_range, keep, t, _ = _rows(pid, t_ptr, alpha_ptr, rows, P, blocks, stn, stp,
                                          ignore_index, BLOCK_P, PER_IMAGE, HAS_IGNORE,
                                          False, ACC, IS_INDEX)
    base = n * sxn + p * sxp
    high, log_total = _online_logsumexp(x_ptr, base, sxc, keep, C, BLOCK_P, BLOCK_C, ACC)
    gamma = (tl.zeros([], ACC) + gamma_hi) + gamma_lo
    eps = (tl.zeros([], ACC) + eps_hi) + eps_lo
    loss = tl.zeros([BLOCK_P], ACC)
    linear = tl.zeros([BLOCK_P], ACC)
    for c0 in range(0, C, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        inside = cols < C
        mask = keep[:, None] & inside[None, :]
        log_p, q, alpha_c = _soft_tile(x_ptr, q_ptr, alpha_ptr, base, n * sqn + p * sqp, t,
                                       cols, mask, inside, high, log_total, eps, C, sxc, sqc,
                                       IS_INDEX, HAS_ALPHA, ACC)
        term, coeff = _focal_terms(log_p, alpha_c, gamma, GAMMA_KIND, HAS_ALPHA, TERMS)
        # A class without target mass adds nothing, even where its log p is -inf.
        loss += tl.sum(tl.where(mask & (q > 0.0), q * term, 0.0), axis=1)
        linear += tl.sum(tl.where(mask, q * coeff, 0.0), axis=1)
    if REDUCE:
        tl.store(part_ptr + pid, tl.sum(loss, axis=0))
        tl.store(count_ptr + pid, tl.sum(keep.to(tl.int32), axis=0))
    else:
        tl.store(loss_ptr + r, loss, mask=in_range)
    if SAVE:
        tl.store(stats_ptr + r, high, mask=in_range)
        tl.store(stats_ptr + rows + r, log_total, mask=in_range)
        tl.store(stats_ptr + 2 * rows + r, linear, mask=in_range)


@triton.jit
def _soft_tile(x_ptr, q_ptr, alpha_ptr, base, q_base, t, cols, mask, inside, high, log_total,
               eps, C, sxc, sqc, IS_INDEX: tl.constexpr, HAS_ALPHA: tl.constexpr,
               ACC: tl.constexpr):
    """``log p``, the smoothed target ``q`` and ``alpha`` of one ``[BLOCK_P, BLOCK_C]`` tile."""
    offsets = cols[None, :].to(tl.int64)
    x = tl.load(x_ptr + base[:, None] + offsets * sxc, mask=mask, other=0.0).to(ACC)
    log_p = (x - high[:, None]) - log_total[:, None]
    if IS_INDEX:
        q = tl.where(cols[None, :] == t[:, None], 1.0 - eps, 0.0)
    else:
        q = tl.load(q_ptr + q_base[:, None] + offsets * sqc, mask=mask, other=0.0).to(ACC)
        q = q * (1.0 - eps)
    q = q + eps / C
    if HAS_ALPHA:
        alpha_c = tl.load(alpha_ptr + cols, mask=inside, other=0.0).to(ACC)[None, :]
    else:
        alpha_c = log_p
    return log_p, q, alpha_c


@triton.jit
def _soft_backward_kernel(x_ptr, t_ptr, q_ptr, alpha_ptr, stats_ptr, go_ptr, count_ptr,
                          grad_ptr, rows, C, P, blocks, sxn, sxc, sxp, stn, stp, sqn, sqc, sqp,
                          sgn, sgc, sgp, son, sop, ignore_index, gamma_hi, gamma_lo, eps_hi,
                          eps_lo, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr,
                          PER_IMAGE: tl.constexpr, IS_INDEX: tl.constexpr,
                          HAS_IGNORE: tl.constexpr, HAS_ALPHA: tl.constexpr,
                          GAMMA_KIND: tl.constexpr, MEAN: tl.constexpr, ACC: tl.constexpr,
                          TERMS: tl.constexpr):
    pid = tl.program_id(0)
    r, n, p, in_range, keep, t, _ = _rows(pid, t_ptr, alpha_ptr, rows, P, blocks, stn, stp,
                                          ignore_index, BLOCK_P, PER_IMAGE, HAS_IGNORE,
                                          False, ACC, IS_INDEX)
    base = n * sxn + p * sxp
    high = tl.load(stats_ptr + r, mask=keep, other=0.0)
    log_total = tl.load(stats_ptr + rows + r, mask=keep, other=0.0)
    linear = tl.load(stats_ptr + 2 * rows + r, mask=keep, other=0.0)
    gamma = (tl.zeros([], ACC) + gamma_hi) + gamma_lo
    eps = (tl.zeros([], ACC) + eps_hi) + eps_lo
    scale = tl.load(go_ptr + n * son + p * sop, mask=keep, other=0.0).to(ACC)
    if MEAN:
        count = tl.load(count_ptr).to(ACC)
        scale = scale / tl.maximum(count, 1.0)
    grad_base = n * sgn + p * sgp
    for c0 in range(0, C, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        inside = cols < C
        mask = keep[:, None] & inside[None, :]
        log_p, q, alpha_c = _soft_tile(x_ptr, q_ptr, alpha_ptr, base, n * sqn + p * sqp, t,
                                       cols, mask, inside, high, log_total, eps, C, sxc, sqc,
                                       IS_INDEX, HAS_ALPHA, ACC)
        _, coeff = _focal_terms(log_p, alpha_c, gamma, GAMMA_KIND, HAS_ALPHA, TERMS)
        grad = scale[:, None] * (tl.exp(log_p) * linear[:, None] - q * coeff)
        grad = tl.where(keep[:, None], grad, 0.0)
        tl.store(grad_ptr + grad_base[:, None] + cols[None, :].to(tl.int64) * sgc, grad,
                 mask=in_range[:, None] & inside[None, :])


def _view(x: Tensor) -> Tensor:
    """``x`` as ``(N, C, P)`` without a copy when its strides allow, else one contiguous copy."""
    n, c = x.shape[0], x.shape[1]
    positions = math.prod(x.shape[2:])
    try:
        return x.view(n, c, positions)
    except RuntimeError:
        return x.contiguous().view(n, c, positions)


def _plan(x3: Tensor) -> tuple[int, dict]:
    """The number of programs and the tiling arguments for the layout of ``x3``.

    Classes contiguous in memory: wide class tiles over consecutive flattened positions.
    Positions contiguous: narrow class tiles over consecutive positions of one sample.
    """
    n, c, positions = x3.shape
    classes = triton.next_power_of_2(max(c, 1))
    per_image = False
    if x3.stride(1) == 1 and (positions == 1 or x3.stride(2) != 1):
        block_c = min(classes, CLASS_TILE)
    else:
        block_c = min(classes, NARROW_CLASS_TILE)
        per_image = positions > 1
    span = positions if per_image else n * positions
    block_p = max(1, min(TILE // block_c, triton.next_power_of_2(max(span, 1))))
    blocks = triton.cdiv(positions, block_p) if per_image else 1
    programs = n * blocks if per_image else triton.cdiv(n * positions, block_p)
    return programs, dict(blocks=blocks, BLOCK_P=block_p, BLOCK_C=block_c,
                          PER_IMAGE=per_image, num_warps=8 if block_p * block_c >= 4096 else 4)


def _split(name: str, value: float) -> dict:
    """``value`` as a float32 and a float32 remainder (scalar kernel arguments are float32),
    which float64 kernels add back."""
    high = float(np.float32(value))
    return {f"{name}_hi": high, f"{name}_lo": value - high}


def _options(x: Tensor, alpha: Tensor | None, gamma: float, ignore_index: int | None) -> dict:
    """Constexpr and scalar arguments shared by the kernels."""
    acc = compute_dtype(x)
    return dict(
        ignore_index=0 if ignore_index is None else ignore_index, **_split("gamma", gamma),
        HAS_IGNORE=ignore_index is not None, HAS_ALPHA=alpha is not None,
        GAMMA_KIND={0.0: 0, 1.0: 1, 2.0: 2}.get(gamma, 3),
        ACC=tl.float64 if acc == torch.float64 else tl.float32,
        TERMS=17 if acc == torch.float64 else 9,
    )


class _SoftmaxFocalFunction(torch.autograd.Function):
    """Class-index softmax focal loss in two fused kernels.

    Saves the inputs and two floats per position (the row maximum :math:`M` and
    :math:`\\log S`, in the compute dtype); the backward recomputes :math:`G` from them and
    the target logit. Traffic per element of the logits, for ``C`` classes, ``b`` bytes per
    logit and int64 targets: the forward reads the logits once (``b``) and, per position,
    the target and the target logit and writes the two statistics; the backward reads the
    logits and writes the gradient (``2b``) and reads per position the target, the target
    logit and the statistics. In float32 with ``"mean"`` or ``"sum"``: ``12 + 40/C`` bytes
    (``16/C`` of it the targets), ``+8/C`` with ``"none"`` (the loss and ``grad_output``).
    """

    @staticmethod
    def forward(ctx, x, target, alpha, gamma, ignore_index, reduction):
        x3 = _view(x)
        n, c, positions = x3.shape
        rows = n * positions
        t2 = target.reshape(n, positions)
        acc = compute_dtype(x)
        need_grad = ctx.needs_input_grad[0]
        programs, plan = _plan(x3)
        reduce = reduction != "none"
        spare = torch.empty(1, dtype=acc, device=x.device)
        loss = spare if reduce else torch.empty(rows, dtype=x.dtype, device=x.device)
        stats = torch.empty(2 * rows, dtype=acc, device=x.device) if need_grad else spare
        partials = torch.zeros(programs if reduce else 0, dtype=acc, device=x.device)
        counts = torch.zeros(programs if reduce else 0, dtype=torch.int32, device=x.device)
        options = _options(x, alpha, gamma, ignore_index)
        if rows:
            _forward_kernel[(programs,)](
                x3, t2, spare if alpha is None else alpha, loss, stats,
                partials if reduce else spare, counts if reduce else spare,
                rows, c, positions, plan.pop("blocks"), *x3.stride(), *t2.stride(),
                REDUCE=reduce, SAVE=need_grad, **plan, **options)
        count = counts.sum(dtype=torch.int64)
        ctx.gamma, ctx.ignore_index, ctx.reduction = gamma, ignore_index, reduction
        ctx.save_for_backward(x, target, alpha, stats if need_grad else None, count)
        if not reduce:
            return loss.reshape(target.shape)
        total = partials.sum(dtype=torch.float64)
        if reduction == "mean":
            total = total / count.clamp_min(1)
        return total.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        x, target, alpha, stats, count = ctx.saved_tensors
        if torch.is_grad_enabled():
            # Higher-order gradients: the same closed form, written with differentiable ops.
            dtype = compute_dtype(x)
            n = x.shape[0]
            dx = softmax_focal_index_grad(x, target, alpha, ctx.gamma, ctx.ignore_index)
            if ctx.reduction == "none":
                scale = grad_output.to(dtype).reshape(n, 1, *x.shape[2:])
            else:
                scale = grad_output.to(dtype)
                if ctx.reduction == "mean":
                    scale = scale / count.clamp_min(1).to(dtype)
            return (dx * scale).to(x.dtype), None, None, None, None, None
        x3 = _view(x)
        n, c, positions = x3.shape
        rows = n * positions
        t2 = target.reshape(n, positions)
        grad = torch.empty_like(x)
        try:
            g3 = grad.view(n, c, positions)
        except RuntimeError:
            grad = torch.empty(x.shape, dtype=x.dtype, device=x.device)
            g3 = grad.view(n, c, positions)
        if ctx.reduction == "none":
            go = grad_output.reshape(n, positions)
            go_strides = go.stride()
        else:
            go, go_strides = grad_output, (0, 0)
        programs, plan = _plan(x3)
        if rows:
            _backward_kernel[(programs,)](
                x3, t2, stats if alpha is None else alpha, stats, go, count, g3,
                rows, c, positions, plan.pop("blocks"), *x3.stride(), *t2.stride(),
                *g3.stride(), *go_strides, MEAN=ctx.reduction == "mean", **plan,
                **_options(x, alpha, ctx.gamma, ctx.ignore_index))
        return grad, None, None, None, None, None


def softmax_focal_loss(x: Tensor, target: Tensor, alpha: Tensor | None, gamma: float,
                       ignore_index: int | None, reduction: str) -> Tensor:
    """Softmax focal loss of class-index targets; see
    :func:`focalkit.functional.softmax_focal_loss`."""
    return _SoftmaxFocalFunction.apply(x, target, alpha, gamma, ignore_index, reduction)


def _soft_grad(x: Tensor, target: Tensor, alpha: Tensor | None, gamma: float,
               ignore_index: int | None, label_smoothing: float, is_index: bool) -> Tensor:
    r"""Closed-form gradient of the per-position loss with soft targets, with differentiable
    operations: :math:`f'_j - p_j \sum_c f'_c` with :math:`f'_c = -q_c\,G_c`."""
    dtype = compute_dtype(x)
    xc = x.to(dtype)
    c = x.shape[1]
    valid = None
    if is_index:
        valid, t = ignore_mask(target, ignore_index)
        if valid is not None:
            xc = torch.where(valid.unsqueeze(1), xc, 0.0)
        q = torch.zeros_like(xc).scatter_(1, t.unsqueeze(1), 1.0)
    else:
        q = target.to(dtype)
    q = q * (1.0 - label_smoothing) + label_smoothing / c
    log_p = torch.log_softmax(xc, dim=1)
    alpha_c = None if alpha is None else alpha.to(dtype).reshape((1, c) + (1,) * (x.dim() - 2))
    _, coeff = focal_index_terms(log_p, alpha_c, gamma, True)
    slope = -q * coeff
    dx = slope - torch.exp(log_p) * slope.sum(dim=1, keepdim=True)
    if valid is not None:
        dx = torch.where(valid.unsqueeze(1), dx, 0.0)
    return dx


class _SoftSoftmaxFocalFunction(torch.autograd.Function):
    r"""Softmax focal loss of smoothed index targets or probability targets, fused.

    With :math:`\ell = \sum_c f_c(\log p_c)`, :math:`f_c = -q_c\,\alpha_c\,(1-p_c)^\gamma
    \log p_c` and :math:`\partial \log p_c / \partial x_j = [c = j] - p_j`:

    .. math::
        \frac{\partial \ell}{\partial x_j} = f'_j - p_j \sum_c f'_c, \qquad
        f'_c = -q_c\,\alpha_c\left((1-p_c)^\gamma - \gamma\,(1-p_c)^{\gamma-1}
        p_c \log p_c\right).

    The forward reads the logits twice (maximum and sum, then the loss and
    :math:`\sum_c f'_c`) and saves three floats per position (:math:`M`, :math:`\log S`,
    :math:`-\sum_c f'_c`); the backward reads the logits (and the targets) once and writes the
    gradient. In float32 with ``"mean"``: ``16 + 48/C`` bytes per element for index targets,
    ``24 + 24/C`` for float32 probability targets (read once per pass).
    """

    @staticmethod
    def forward(ctx, x, target, alpha, gamma, ignore_index, label_smoothing, is_index,
                reduction):
        x3 = _view(x)
        n, c, positions = x3.shape
        rows = n * positions
        acc = compute_dtype(x)
        spare = torch.empty(1, dtype=acc, device=x.device)
        t2, q3 = (target.reshape(n, positions), spare) if is_index else (spare, _view(target))
        need_grad = ctx.needs_input_grad[0]
        programs, plan = _plan(x3)
        reduce = reduction != "none"
        loss = spare if reduce else torch.empty(rows, dtype=x.dtype, device=x.device)
        stats = torch.empty(3 * rows, dtype=acc, device=x.device) if need_grad else spare
        partials = torch.zeros(programs if reduce else 0, dtype=acc, device=x.device)
        counts = torch.zeros(programs if reduce else 0, dtype=torch.int32, device=x.device)
        ignore = ignore_index if is_index else None
        if rows:
            _soft_forward_kernel[(programs,)](
                x3, t2, q3, spare if alpha is None else alpha, loss, stats,
                partials if reduce else spare, counts if reduce else spare,
                rows, c, positions, plan.pop("blocks"), *x3.stride(),
                *_target_strides(t2, q3, is_index), IS_INDEX=is_index, REDUCE=reduce,
                SAVE=need_grad, **_split("eps", label_smoothing), **plan,
                **_options(x, alpha, gamma, ignore))
        count = counts.sum(dtype=torch.int64)
        ctx.options = gamma, ignore, label_smoothing, is_index, reduction
        ctx.save_for_backward(x, target, alpha, stats if need_grad else None, count)
        if not reduce:
            return loss.reshape(x.shape[:1] + x.shape[2:])
        total = partials.sum(dtype=torch.float64)
        if reduction == "mean":
            total = total / count.clamp_min(1)
        return total.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        x, target, alpha, stats, count = ctx.saved_tensors
        gamma, ignore, label_smoothing, is_index, reduction = ctx.options
        if torch.is_grad_enabled():
            # Higher-order gradients: the same closed form, written with differentiable ops.
            dtype = compute_dtype(x)
            dx = _soft_grad(x, target, alpha, gamma, ignore, label_smoothing, is_index)
            if reduction == "none":
                scale = grad_output.to(dtype).unsqueeze(1)
            else:
                scale = grad_output.to(dtype)
                if reduction == "mean":
                    scale = scale / count.clamp_min(1).to(dtype)
            return (dx * scale).to(x.dtype), None, None, None, None, None, None, None
        x3 = _view(x)
        n, c, positions = x3.shape
        rows = n * positions
        spare = stats
        t2, q3 = (target.reshape(n, positions), spare) if is_index else (spare, _view(target))
        grad = torch.empty_like(x)
        try:
            g3 = grad.view(n, c, positions)
        except RuntimeError:
            grad = torch.empty(x.shape, dtype=x.dtype, device=x.device)
            g3 = grad.view(n, c, positions)
        if reduction == "none":
            go = grad_output.reshape(n, positions)
            go_strides = go.stride()
        else:
            go, go_strides = grad_output, (0, 0)
        programs, plan = _plan(x3)
        if rows:
            _soft_backward_kernel[(programs,)](
                x3, t2, q3, spare if alpha is None else alpha, stats, go, count, g3,
                rows, c, positions, plan.pop("blocks"), *x3.stride(),
                *_target_strides(t2, q3, is_index), *g3.stride(), *go_strides,
                IS_INDEX=is_index, MEAN=reduction == "mean", **_split("eps", label_smoothing),
                **plan, **_options(x, alpha, gamma, ignore))
        return grad, None, None, None, None, None, None, None


def _target_strides(t2: Tensor, q3: Tensor, is_index: bool) -> tuple[int, ...]:
    """Strides of the ``(N, P)`` indices and of the ``(N, C, P)`` probabilities (zeros for
    the kind not used)."""
    return (*t2.stride(), 0, 0, 0) if is_index else (0, 0, *q3.stride())


def softmax_focal_loss_soft(x: Tensor, target: Tensor, alpha: Tensor | None, gamma: float,
                            ignore_index: int | None, label_smoothing: float, is_index: bool,
                            reduction: str) -> Tensor:
    """Softmax focal loss of class-index targets with label smoothing, or of class
    probabilities (``is_index=False``, ``target`` shaped like ``x``); see
    :func:`focalkit.functional.softmax_focal_loss`."""
    return _SoftSoftmaxFocalFunction.apply(x, target, alpha, gamma, ignore_index,
                                           label_smoothing, is_index, reduction)
