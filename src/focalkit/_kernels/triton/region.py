r"""Per-class region statistics with the activation fused into the sums (Triton).

Both entry points reduce ``x`` of shape :math:`(N, C, M)` to per-image, per-class sums of the
activated input :math:`p` and a target :math:`q` without forming :math:`p`, a one-hot target
or any other tensor of the input's size:

* :func:`index_stats`: softmax over ``C``, class-index labels ``t`` (:math:`q_{ci} = [t_i = c]`);
* :func:`dense_stats`: softmax over ``C``, an element-wise sigmoid, or probabilities as given
  (``activation="none"``), and a target of the input's shape in any real dtype.

One program takes a tile of positions of one image. When all classes fit in one tile
(``C`` up to :data:`BLOCK_C_MAX`, more when there are few positions) the softmax is
computed from one read of the tile; otherwise a first loop over class tiles keeps an online
maximum and sum per position and a second loop forms the probabilities. Each program writes
its per-class partial sums to a buffer of its own; the partials are added in float64 by one
torch sum per statistic, so the result does not depend on scheduling (no atomics).

Entries left out by ``valid`` are never read from ``x``: they add nothing to any sum and get
exactly zero gradient, whatever the input holds there. Inputs are read in their own dtype,
computed in float32 (float64 for float64 inputs), and the gradient is written in the input's
dtype.

Traffic, float32 input, bytes per element of ``x`` for forward and backward together, with
``C`` classes in one tile: the forward reads ``x`` once (4), the backward reads it again and
writes the gradient (8): 12 in all, plus the target (int64 labels: 16 / C; a dense target:
twice its element size; ``valid``: 2 / C, or 2 per element for a dense mask) and the partial
sums (about 24 / ``BLOCK_M``, under 0.2 at the default tiles). When the classes take
several tiles the softmax reads ``x`` (and a dense target) twice in each pass: 20 in all.
Offsets are 64-bit: inputs of more than 2**31 elements are fine.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..._tensor import compute_dtype
from ..plain.region import dense_sums, index_sums

__all__ = ["BLOCK_C_MAX", "BLOCK_M_MAX", "TILE", "dense_stats", "index_stats"]

#: Elements (classes x positions) of one program's tile.
TILE = 4096
#: Classes of one tile when there are enough positions to fill it; a softmax over more
#: classes visits them tile by tile.
BLOCK_C_MAX = 128
#: Positions of one tile.
BLOCK_M_MAX = 1024
#: Warps per program on a GPU.
NUM_WARPS = 8

_ACTIVATIONS = {"none": 0, "sigmoid": 1, "softmax": 2}
_NAMES = {code: name for name, code in _ACTIVATIONS.items()}


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------


@triton.jit
def _load_tile(x_ptr, v_ptr, n, c, m, cmask, mmask, sxn, sxc, sxm, svn, svc, svm,
               HAS_VALID: tl.constexpr, COMPUTE: tl.constexpr):
    """The tile of ``x`` in the compute dtype (0 where not kept) and the mask of kept entries."""
    keep = cmask[:, None] & mmask[None, :]
    if HAS_VALID:
        flags = tl.load(v_ptr + n * svn + c[:, None] * svc + m[None, :] * svm, mask=keep,
                        other=0)
        keep = keep & (flags != 0)
    x = tl.load(x_ptr + n * sxn + c[:, None] * sxc + m[None, :] * sxm, mask=keep, other=0.0)
    return x.to(COMPUTE), keep


@triton.jit
def _load_target(q_ptr, t, n, c, m, keep, sqn, sqc, sqm, INDEX: tl.constexpr,
                 COMPUTE: tl.constexpr):
    """The target tile: one-hot of the labels ``t``, or the dense target; 0 where not kept."""
    if INDEX:
        q = keep & (t[None, :] == c[:, None])
    else:
        q = tl.load(q_ptr + n * sqn + c[:, None] * sqc + m[None, :] * sqm, mask=keep, other=0)
    return q.to(COMPUTE)


@triton.jit
def _activate(x, cmask, row_max, den, ACT: tl.constexpr, C_TILES: tl.constexpr):
    """Probabilities of a tile; a softmax over several tiles uses the running max and sum."""
    if ACT == 2:
        xs = tl.where(cmask[:, None], x, -float("inf"))
        if C_TILES == 1:
            e = tl.exp(xs - tl.max(xs, 0)[None, :])
            p = e / tl.sum(e, 0)[None, :]
        else:
            p = tl.exp(xs - row_max[None, :]) / den[None, :]
    elif ACT == 1:
        e = tl.exp(-tl.abs(x))  # never overflows
        p = tl.where(x >= 0, 1.0, e) / (1.0 + e)
    else:
        p = x
    return p


@triton.jit
def _tile(q_ptr, M, m_tiles, sqn, sqm, INDEX: tl.constexpr, BLOCK_C: tl.constexpr,
          BLOCK_M: tl.constexpr):
    """This program's image ``n``, positions ``m`` (and their mask), first class and labels."""
    pid = tl.program_id(0).to(tl.int64)
    n = pid // m_tiles
    m = (pid % m_tiles) * BLOCK_M + tl.arange(0, BLOCK_M)
    mmask = m < M
    c_first = tl.program_id(1).to(tl.int64) * BLOCK_C
    if INDEX:
        t = tl.load(q_ptr + n * sqn + m * sqm, mask=mmask, other=0)
    else:
        t = tl.zeros([BLOCK_M], dtype=tl.int64)
    return pid, n, m, mmask, c_first, t


@triton.jit
def _sums_kernel(x_ptr, q_ptr, v_ptr, out_ptr, C, M, m_tiles, plane,
                 sxn, sxc, sxm, sqn, sqc, sqm, svn, svc, svm,
                 ACT: tl.constexpr, INDEX: tl.constexpr, HAS_VALID: tl.constexpr,
                 BLOCK_C: tl.constexpr, BLOCK_M: tl.constexpr, C_TILES: tl.constexpr,
                 COMPUTE: tl.constexpr):
    """Partial (sum p q, sum p, sum q) per class over one tile of positions of one image.

    Program (i, j): image ``i // m_tiles``, positions of tile ``i % m_tiles``, class tile
    ``j`` (sigmoid and none; a softmax program visits all ``C_TILES`` class tiles).
    """
    pid, n, m, mmask, c_first, t = _tile(q_ptr, M, m_tiles, sqn, sqm, INDEX, BLOCK_C,
                                         BLOCK_M)
    row_max = tl.full([BLOCK_M], -float("inf"), COMPUTE)
    den = tl.zeros([BLOCK_M], dtype=COMPUTE)
    if ACT == 2:
        if C_TILES > 1:
            for ct in range(C_TILES):
                c = c_first + ct * BLOCK_C + tl.arange(0, BLOCK_C)
                cmask = c < C
                x, keep = _load_tile(x_ptr, v_ptr, n, c, m, cmask, mmask, sxn, sxc, sxm,
                                     svn, svc, svm, HAS_VALID, COMPUTE)
                xs = tl.where(cmask[:, None], x, -float("inf"))
                new_max = tl.maximum(row_max, tl.max(xs, 0))
                den = den * tl.exp(row_max - new_max) + tl.sum(
                    tl.exp(xs - new_max[None, :]), 0)
                row_max = new_max
    out = out_ptr + pid * C
    for ct in range(C_TILES):
        c = c_first + ct * BLOCK_C + tl.arange(0, BLOCK_C)
        cmask = c < C
        x, keep = _load_tile(x_ptr, v_ptr, n, c, m, cmask, mmask, sxn, sxc, sxm, svn, svc,
                             svm, HAS_VALID, COMPUTE)
        p = tl.where(keep, _activate(x, cmask, row_max, den, ACT, C_TILES), 0.0)
        q = _load_target(q_ptr, t, n, c, m, keep, sqn, sqc, sqm, INDEX, COMPUTE)
        tl.store(out + c, tl.sum(p * q, 1), mask=cmask)
        tl.store(out + plane + c, tl.sum(p, 1), mask=cmask)
        tl.store(out + 2 * plane + c, tl.sum(q, 1), mask=cmask)


@triton.jit
def _grad_kernel(x_ptr, q_ptr, v_ptr, a_ptr, b_ptr, g_ptr, C, M, m_tiles,
                 sxn, sxc, sxm, sqn, sqc, sqm, svn, svc, svm, sgn, sgc, sgm,
                 ACT: tl.constexpr, INDEX: tl.constexpr, HAS_VALID: tl.constexpr,
                 BLOCK_C: tl.constexpr, BLOCK_M: tl.constexpr, C_TILES: tl.constexpr,
                 COMPUTE: tl.constexpr):
    """Gradient of ``sum a TP + sum b P`` for one tile of positions of one image.

    With :math:`g_{ci} = b_c + a_c q_{ci}` on kept entries (0 elsewhere), the gradient is
    :math:`g` (none), :math:`g p (1 - p)` (sigmoid) or :math:`p (g - \\sum_k p_k g_k)`
    (softmax; over several class tiles the sum is accumulated online with the maximum).
    """
    pid, n, m, mmask, c_first, t = _tile(q_ptr, M, m_tiles, sqn, sqm, INDEX, BLOCK_C,
                                         BLOCK_M)
    row_max = tl.full([BLOCK_M], -float("inf"), COMPUTE)
    den = tl.zeros([BLOCK_M], dtype=COMPUTE)
    dot = tl.zeros([BLOCK_M], dtype=COMPUTE)
    if ACT == 2:
        if C_TILES > 1:
            for ct in range(C_TILES):
                c = c_first + ct * BLOCK_C + tl.arange(0, BLOCK_C)
                cmask = c < C
                x, keep = _load_tile(x_ptr, v_ptr, n, c, m, cmask, mmask, sxn, sxc, sxm,
                                     svn, svc, svm, HAS_VALID, COMPUTE)
                q = _load_target(q_ptr, t, n, c, m, keep, sqn, sqc, sqm, INDEX, COMPUTE)
                a = tl.load(a_ptr + n * C + c, mask=cmask, other=0.0)
                b = tl.load(b_ptr + n * C + c, mask=cmask, other=0.0)
                g = tl.where(keep, b[:, None] + a[:, None] * q, 0.0)
                xs = tl.where(cmask[:, None], x, -float("inf"))
                new_max = tl.maximum(row_max, tl.max(xs, 0))
                scale = tl.exp(row_max - new_max)
                e = tl.exp(xs - new_max[None, :])
                den = den * scale + tl.sum(e, 0)
                dot = dot * scale + tl.sum(e * g, 0)
                row_max = new_max
    for ct in range(C_TILES):
        c = c_first + ct * BLOCK_C + tl.arange(0, BLOCK_C)
        cmask = c < C
        x, keep = _load_tile(x_ptr, v_ptr, n, c, m, cmask, mmask, sxn, sxc, sxm, svn, svc,
                             svm, HAS_VALID, COMPUTE)
        q = _load_target(q_ptr, t, n, c, m, keep, sqn, sqc, sqm, INDEX, COMPUTE)
        a = tl.load(a_ptr + n * C + c, mask=cmask, other=0.0)
        b = tl.load(b_ptr + n * C + c, mask=cmask, other=0.0)
        g = tl.where(keep, b[:, None] + a[:, None] * q, 0.0)
        p = _activate(x, cmask, row_max, den, ACT, C_TILES)
        if ACT == 2:
            if C_TILES == 1:
                s = tl.sum(p * g, 0)
            else:
                s = dot / den
            grad = p * (g - s[None, :])
        elif ACT == 1:
            grad = g * p * (1.0 - p)
        else:
            grad = g
        grad = tl.where(keep, grad, 0.0)
        tl.store(g_ptr + n * sgn + c[:, None] * sgc + m[None, :] * sgm,
                 grad.to(g_ptr.dtype.element_ty), mask=cmask[:, None] & mmask[None, :])


# ---------------------------------------------------------------------------------------------
# Launch
# ---------------------------------------------------------------------------------------------


def _geometry(c: int, m: int, act: int) -> tuple[int, int, int, int]:
    """(BLOCK_C, BLOCK_M, class tiles per program, programs along the classes)."""
    block_m = max(1, min(triton.next_power_of_2(max(m, 1)), BLOCK_M_MAX,
                         TILE // min(triton.next_power_of_2(c), BLOCK_C_MAX)))
    block_c = min(triton.next_power_of_2(c), max(TILE // block_m, 1))
    tiles = triton.cdiv(c, block_c)
    return (block_c, block_m, tiles, 1) if act == 2 else (block_c, block_m, 1, tiles)


def _target_view(q: Tensor) -> Tensor:
    return q.view(torch.uint8) if q.dtype == torch.bool else q


def _strides(tensor: Tensor | None, index: bool) -> tuple[int, int, int]:
    """(image, class, position) strides; labels and per-position masks have no class axis."""
    if tensor is None:
        return 0, 0, 0
    if index:
        return tensor.stride(0), 0, tensor.stride(1)
    return tensor.stride(0), tensor.stride(1), tensor.stride(2)


def _launch_args(x: Tensor, q: Tensor, valid: Tensor | None, act: int, index: bool):
    n, c, m = x.shape
    block_c, block_m, c_tiles, c_programs = _geometry(c, m, act)
    m_tiles = triton.cdiv(m, block_m)
    v = None if valid is None else valid.view(torch.uint8)
    compute = tl.float64 if x.dtype == torch.float64 else tl.float32
    grid = (n * m_tiles, c_programs)
    strides = (*x.stride(), *_strides(q, index), *_strides(v, index))
    constants = dict(ACT=act, INDEX=index, HAS_VALID=valid is not None, BLOCK_C=block_c,
                     BLOCK_M=block_m, C_TILES=c_tiles, COMPUTE=compute, num_warps=NUM_WARPS)
    return grid, m_tiles, v, strides, constants


def _sums(x: Tensor, q: Tensor, valid: Tensor | None, act: int,
          index: bool) -> tuple[Tensor, Tensor, Tensor]:
    n, c, m = x.shape
    dtype = compute_dtype(x)
    q = _target_view(q)
    grid, m_tiles, v, strides, constants = _launch_args(x, q, valid, act, index)
    partials = torch.empty((3, n, m_tiles, c), dtype=dtype, device=x.device)
    if partials.numel() > 0:
        _sums_kernel[grid](x, q, x if v is None else v, partials, c, m, m_tiles,
                           n * m_tiles * c, *strides, **constants)
    tp, p_sum, q_sum = (partials[k].sum(dim=1, dtype=torch.float64).to(dtype)
                        for k in range(3))
    return tp, p_sum, q_sum


def _grad(x: Tensor, q: Tensor, valid: Tensor | None, a: Tensor, b: Tensor, act: int,
          index: bool) -> Tensor:
    n, c, m = x.shape
    dtype = compute_dtype(x)
    q = _target_view(q)
    grad = torch.empty_like(x)
    if grad.numel() == 0:
        return grad
    grid, m_tiles, v, strides, constants = _launch_args(x, q, valid, act, index)
    a = a.to(dtype).contiguous()
    b = b.to(dtype).contiguous()
    _grad_kernel[grid](x, q, x if v is None else v, a, b, grad, c, m, m_tiles, *strides,
                       *grad.stride(), **constants)
    return grad


def _plain_sums(x: Tensor, q: Tensor, valid: Tensor | None, act: int,
                index: bool) -> tuple[Tensor, Tensor, Tensor]:
    """The same sums as differentiable operations (for higher-order gradients)."""
    if index:
        return index_sums(x, q, valid, True)
    return dense_sums(x, q, valid, _NAMES[act])


class _StatsFunction(torch.autograd.Function):
    r"""(TP, sum of p, sum of q) per image and class, saving nothing of the input's size.

    Saves the inputs ``x``, ``q`` and ``valid`` only; the backward kernel recomputes the
    activation from ``x``. With :math:`a = \partial L / \partial TP` and
    :math:`b = \partial L / \partial \sum p`, the gradient with respect to the probabilities is
    :math:`g_{ci} = b_c + a_c q_{ci}` on kept entries; through the softmax it is
    :math:`p_{ci} (g_{ci} - s_i)` with :math:`s_i = \sum_k p_{ki} g_{ki}`, which for labels is
    :math:`p_{ci} (b_c - s_i) + [t_i = c]\,a_c\,p_{ci}` with
    :math:`s_i = \sum_k p_{ki} b_k + a_{t_i} p_{t_i i}`; through the sigmoid it is
    :math:`g_{ci} p_{ci} (1 - p_{ci})`. The sum of ``q`` is not differentiable.
    """

    @staticmethod
    def forward(ctx, x, q, valid, act, index):
        tp, p_sum, q_sum = _sums(x, q, valid, act, index)
        ctx.save_for_backward(x, q, valid)
        ctx.act, ctx.index = act, index
        ctx.mark_non_differentiable(q_sum)
        return tp, p_sum, q_sum

    @staticmethod
    def backward(ctx, grad_tp, grad_p_sum, _):
        x, q, valid = ctx.saved_tensors
        if torch.is_grad_enabled():
            # Higher-order gradients: differentiate the plain composition instead.
            with torch.enable_grad():
                tp, p_sum, _ = _plain_sums(x, q, valid, ctx.act, ctx.index)
            dx = torch.autograd.grad((tp, p_sum), x, (grad_tp, grad_p_sum),
                                     create_graph=True)[0]
            return dx, None, None, None, None
        return _grad(x, q, valid, grad_tp, grad_p_sum, ctx.act, ctx.index), None, None, None, None


def index_stats(x: Tensor, t: Tensor, valid: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """Per-image, per-class (TP, sum of p, count) of ``softmax(x)`` for labels ``t``.

    Args:
        x: logits of shape (N, C, M), any strides.
        t: int64 labels of shape (N, M), ignored positions already replaced by a valid class.
        valid: bool mask of shape (N, M) of the positions to keep, or None for all.

    Returns:
        Three tensors of shape (N, C) in the compute dtype; the count is not differentiable.
    """
    return _StatsFunction.apply(x, t, valid, _ACTIVATIONS["softmax"], True)


def dense_stats(x: Tensor, q: Tensor, valid: Tensor | None,
                activation: str) -> tuple[Tensor, Tensor, Tensor]:
    """Per-image, per-class (TP, sum of p, sum of q) for a target of the input's shape.

    The product intersection :math:`TP = \\sum p q`; the ``"min"`` intersection stays on the
    plain composition.

    Args:
        x: logits (or probabilities) of shape (N, C, M), any strides.
        q: the target, same shape, any real dtype; values at entries left out by ``valid``
            are never used.
        valid: bool mask of the input's shape of the entries to keep, or None for all.
        activation: ``"softmax"`` over ``C``, ``"sigmoid"``, or ``"none"`` for probabilities.

    Returns:
        Three tensors of shape (N, C) in the compute dtype; the sum of ``q`` is not
        differentiable.
    """
    return _StatsFunction.apply(x, q, valid, _ACTIVATIONS[activation], False)
