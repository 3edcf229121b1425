r"""Fused Triton kernels of the sigmoid focal loss.

The forward kernel reads the logits and the targets once and writes either the element-wise
loss (``reduction="none"``) or one float32 partial sum per program, together with the number
of non-ignored elements when ``ignore_index`` is set; the partials are added in float64. The
backward kernel reads the logits and the targets again and writes the gradient, scaled by
``grad_output`` (divided by the count for ``"mean"``), both read from device memory. Nothing of the
input's size is saved besides the inputs themselves: forward and backward together move 20
bytes per float32 element (8 to read in the forward, 8 to read and 4 to write in the
backward), against about 20 for ``torch.compile`` of the formula, which also saves an
input-sized buffer, and some 30 passes for the eager formula. Writing the gradient during the
forward pass would move the same 20 bytes (the backward would still read and scale it) and
keep one more input-sized buffer alive, so the gradient is recomputed instead.

Hyper-parameter tensors (``alpha``, ``pos_weight``, ``weight``) are read in place when their
non-broadcast dimensions are one contiguous run of the input's dimensions (a scalar, a
per-class vector along the last dimension or along dimension 1, a full-size tensor); any
other broadcast takes the plain composition (:func:`eligible`).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..plain.focal import sigmoid_focal_terms

#: Elements per program.
BLOCK = 1024


@triton.jit
def _load_aux(ptr, offsets, mask, inner, size, ctype: tl.constexpr):
    """A broadcast hyper-parameter at flat input ``offsets``: element ``(i // inner) % size``."""
    return tl.load(ptr + (offsets // inner) % size, mask=mask, other=0.0).to(ctype)


@triton.jit
def _sigmoid_focal_elements(x, y, alpha_t, pos_weight, weight, gamma,
                            HAS_ALPHA: tl.constexpr, HAS_POS_WEIGHT: tl.constexpr,
                            HAS_WEIGHT: tl.constexpr, WITH_GRAD: tl.constexpr):
    """Element-wise loss and derivative (see
    :func:`focalkit._kernels.plain.focal.sigmoid_focal_terms`).

    Every product whose factor can be 0 next to an infinite term is guarded, so that infinite
    logits give the limits (0 loss and gradient for a right, infinitely confident prediction).
    """
    z = tl.exp(-tl.abs(x))
    inv = 1.0 / (1.0 + z)
    positive = x >= 0
    p = tl.where(positive, inv, z * inv)
    q = tl.where(positive, z * inv, inv)
    # log(1 + z) for z in [0, 1], accurate for tiny z without a log1p instruction
    u = 1.0 + z
    tail = tl.where(u == 1.0, z, tl.log(u) * (z / tl.where(u == 1.0, 1.0, u - 1.0)))
    sp_pos = tl.maximum(x, 0.0) + tail  # softplus(x) = -log(1 - p)
    sp_neg = tl.maximum(-x, 0.0) + tail  # softplus(-x) = -log(p)
    wy = y
    if HAS_POS_WEIGHT:
        wy = pos_weight * y
    bce = tl.where(y > 0, wy * sp_neg, 0.0) + tl.where(y < 1, (1.0 - y) * sp_pos, 0.0)
    m = p + (q - p) * y  # 1 - p_t
    log_m = tl.log(tl.where(m > 0, m, 1.0))
    mod = tl.where(m > 0, tl.exp(gamma * log_m), tl.where(gamma == 0, 1.0, 0.0))
    scale = tl.full(x.shape, 1.0, x.dtype)
    if HAS_ALPHA:
        scale = scale * alpha_t
    if HAS_WEIGHT:
        scale = scale * weight
    loss = scale * (mod * bce)
    grad = loss
    if WITH_GRAD:
        if HAS_POS_WEIGHT:
            dbce = p + (-pos_weight * q - p) * y
        else:
            dbce = p - y
        # gamma m^(gamma-1) (1 - 2y) p q b, with p q / m <= 1 formed first: no overflow.
        ratio = tl.where(m > 0, (p * q) / tl.where(m > 0, m, 1.0), 0.0)
        focus = tl.where(gamma != 0, gamma * mod * ratio * (1.0 - 2.0 * y), 0.0)
        focus = tl.where(focus != 0, focus * bce, 0.0)
        grad = scale * (mod * dbce + focus)
    return loss, grad


@triton.jit
def _block_terms(x_ptr, y_ptr, alpha_ptr, pos_weight_ptr, weight_ptr, offsets, mask, alpha,
                 gamma, ignore_value, alpha_inner, alpha_size, pw_inner, pw_size, w_inner,
                 w_size, ALPHA_TENSOR: tl.constexpr, HAS_ALPHA: tl.constexpr,
                 HAS_POS_WEIGHT: tl.constexpr, HAS_WEIGHT: tl.constexpr,
                 HAS_IGNORE: tl.constexpr, F64: tl.constexpr, WITH_GRAD: tl.constexpr):
    """Load one block of inputs and hyper-parameters; return (loss or derivative, kept mask)."""
    ctype = tl.float64 if F64 else tl.float32
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(ctype)
    y = tl.load(y_ptr + offsets, mask=mask, other=0.0).to(ctype)
    keep = mask
    if HAS_IGNORE:
        keep = keep & (y != ignore_value)
        x = tl.where(keep, x, 0.0)
        y = tl.where(keep, y, 0.0)
    alpha_t = tl.zeros_like(x)
    if HAS_ALPHA:
        if ALPHA_TENSOR:
            a = _load_aux(alpha_ptr, offsets, mask, alpha_inner, alpha_size, ctype)
        else:
            a = tl.full(x.shape, alpha, ctype)
        alpha_t = (1.0 - a) + (2.0 * a - 1.0) * y
    pos_weight = tl.zeros_like(x)
    if HAS_POS_WEIGHT:
        pos_weight = _load_aux(pos_weight_ptr, offsets, mask, pw_inner, pw_size, ctype)
    weight = tl.zeros_like(x)
    if HAS_WEIGHT:
        weight = _load_aux(weight_ptr, offsets, mask, w_inner, w_size, ctype)
    loss, grad = _sigmoid_focal_elements(x, y, alpha_t, pos_weight, weight, gamma, HAS_ALPHA,
                                         HAS_POS_WEIGHT, HAS_WEIGHT, WITH_GRAD)
    if WITH_GRAD:
        return grad, keep
    return loss, keep


@triton.jit
def _sigmoid_focal_forward(x_ptr, y_ptr, alpha_ptr, pos_weight_ptr, weight_ptr, out_ptr,
                           partial_ptr, count_ptr, n, alpha, gamma, ignore_value,
                           alpha_inner, alpha_size, pw_inner, pw_size, w_inner, w_size,
                           ALPHA_TENSOR: tl.constexpr, HAS_ALPHA: tl.constexpr,
                           HAS_POS_WEIGHT: tl.constexpr, HAS_WEIGHT: tl.constexpr,
                           HAS_IGNORE: tl.constexpr, REDUCE: tl.constexpr,
                           F64: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offsets = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    loss, keep = _block_terms(x_ptr, y_ptr, alpha_ptr, pos_weight_ptr, weight_ptr, offsets,
                              mask, alpha, gamma, ignore_value, alpha_inner, alpha_size,
                              pw_inner, pw_size, w_inner, w_size, ALPHA_TENSOR, HAS_ALPHA,
                              HAS_POS_WEIGHT, HAS_WEIGHT, HAS_IGNORE, F64, False)
    loss = tl.where(keep, loss, 0.0)
    if REDUCE:
        tl.store(partial_ptr + pid, tl.sum(loss, axis=0))
        if HAS_IGNORE:
            tl.store(count_ptr + pid, tl.sum(keep.to(tl.int32), axis=0))
    else:
        tl.store(out_ptr + offsets, loss.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _sigmoid_focal_backward(x_ptr, y_ptr, alpha_ptr, pos_weight_ptr, weight_ptr, grad_ptr,
                            scale_ptr, count_ptr, n, alpha, gamma, ignore_value,
                            alpha_inner, alpha_size, pw_inner, pw_size, w_inner, w_size,
                            ALPHA_TENSOR: tl.constexpr, HAS_ALPHA: tl.constexpr,
                            HAS_POS_WEIGHT: tl.constexpr, HAS_WEIGHT: tl.constexpr,
                            HAS_IGNORE: tl.constexpr, SCALE_PER_ELEMENT: tl.constexpr,
                            MEAN: tl.constexpr, F64: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offsets = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    grad, keep = _block_terms(x_ptr, y_ptr, alpha_ptr, pos_weight_ptr, weight_ptr, offsets,
                              mask, alpha, gamma, ignore_value, alpha_inner, alpha_size,
                              pw_inner, pw_size, w_inner, w_size, ALPHA_TENSOR, HAS_ALPHA,
                              HAS_POS_WEIGHT, HAS_WEIGHT, HAS_IGNORE, F64, True)
    ctype = tl.float64 if F64 else tl.float32
    if SCALE_PER_ELEMENT:
        scale = tl.load(scale_ptr + offsets, mask=mask, other=0.0).to(ctype)
    else:
        scale = tl.load(scale_ptr).to(ctype)
        if MEAN:
            scale = scale / tl.maximum(tl.load(count_ptr).to(ctype), 1.0)
    grad = tl.where(keep, grad * scale, 0.0)
    tl.store(grad_ptr + offsets, grad.to(grad_ptr.dtype.element_ty), mask=mask)


def _broadcast_run(tensor: Tensor, shape: torch.Size) -> tuple[Tensor, int, int] | None:
    """``(flat tensor, inner, size)`` such that input element ``i`` reads element
    ``(i // inner) % size``, or None when ``tensor``'s broadcast is not one contiguous run."""
    dims = len(shape)
    sizes = (1,) * (dims - tensor.dim()) + tuple(tensor.shape)
    spread = [d for d in range(dims) if sizes[d] != 1]
    if not spread:
        return tensor.reshape(1), 1, 1
    first, last = spread[0], spread[-1] + 1
    if any(sizes[d] != shape[d] for d in range(first, last)):
        return None
    return (tensor.reshape(-1).contiguous(), math.prod(shape[last:]),
            math.prod(shape[first:last]))


def eligible(x: Tensor, alpha: object, pos_weight: object, weight: object) -> bool:
    """Whether the kernels take these hyper-parameter tensors (see the module docstring)."""
    return all(_broadcast_run(t, x.shape) is not None for t in (alpha, pos_weight, weight)
               if isinstance(t, Tensor))


class _Launch:
    """The arguments both kernels share, worked out once per call."""

    def __init__(self, x: Tensor, y: Tensor, alpha, gamma, pos_weight, weight, ignore_index):
        self.n = x.numel()
        self.grid = (triton.cdiv(self.n, BLOCK),)
        dummy = x
        runs = []
        for t in (alpha, pos_weight, weight):
            run = _broadcast_run(t, x.shape) if isinstance(t, Tensor) else None
            runs.append(run if run is not None else (dummy, 1, 1))
        (a, ai, asz), (pw, pwi, pws), (w, wi, ws) = runs
        self.pointers = (x.reshape(-1), y.reshape(-1), a, pw, w)
        self.scalars = (float(alpha) if alpha is not None and not isinstance(alpha, Tensor)
                        else 0.0, float(gamma),
                        float(ignore_index) if ignore_index is not None else 0.0,
                        ai, asz, pwi, pws, wi, ws)
        self.flags = dict(ALPHA_TENSOR=isinstance(alpha, Tensor), HAS_ALPHA=alpha is not None,
                          HAS_POS_WEIGHT=pos_weight is not None, HAS_WEIGHT=weight is not None,
                          HAS_IGNORE=ignore_index is not None,
                          F64=x.dtype == torch.float64)


class _SigmoidFocalFunction(torch.autograd.Function):
    """Forward: loss or partial sums. Backward: the gradient, recomputed from the inputs."""

    @staticmethod
    def forward(ctx, x, y, alpha, gamma, pos_weight, weight, ignore_index, reduction):
        x, y = x.contiguous(), y.contiguous()
        launch = _Launch(x, y, alpha, gamma, pos_weight, weight, ignore_index)
        programs = launch.grid[0]
        reduce = reduction != "none"
        out = x if reduce else torch.empty_like(x)
        partials = torch.empty(programs if reduce else 1, dtype=torch.float32 if
                               x.dtype != torch.float64 else torch.float64, device=x.device)
        counts = torch.empty(programs if reduce and ignore_index is not None else 1,
                             dtype=torch.int32, device=x.device)
        if launch.n:
            _sigmoid_focal_forward[launch.grid](*launch.pointers, out, partials, counts,
                                                launch.n, *launch.scalars, REDUCE=reduce,
                                                BLOCK=BLOCK, **launch.flags)
        if ignore_index is None:
            count = torch.full((), launch.n, dtype=torch.int64, device=x.device)
        elif launch.n and reduce:
            count = counts.sum(dtype=torch.int64)
        else:
            count = torch.zeros((), dtype=torch.int64, device=x.device)
        ctx.launch, ctx.reduction = launch, reduction
        ctx.alpha = alpha
        ctx.gamma, ctx.ignore_index = gamma, ignore_index
        tensors = (t if isinstance(t, Tensor) else None for t in (alpha, pos_weight, weight))
        ctx.save_for_backward(x, y, count, *tensors)
        if not reduce:
            return out
        total = partials.sum(dtype=torch.float64) if launch.n else \
            torch.zeros((), dtype=torch.float64, device=x.device)
        if reduction == "mean":
            total = total / count.clamp_min(1)
        return total.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        x, y, count, alpha_t, pos_weight, weight = ctx.saved_tensors
        alpha = alpha_t if alpha_t is not None else ctx.alpha
        if torch.is_grad_enabled():
            # Higher-order gradients: the closed form, written with differentiable ops.
            dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
            xc, yc = x.to(dtype), y.to(dtype)
            valid = None
            if ctx.ignore_index is not None:
                valid = yc != ctx.ignore_index
                xc, yc = torch.where(valid, xc, 0.0), torch.where(valid, yc, 0.0)
            _, dx = sigmoid_focal_terms(xc, yc, alpha, ctx.gamma, pos_weight, weight, True)
            if valid is not None:
                dx = torch.where(valid, dx, 0.0)
            scale = grad_output.to(dtype)
            if ctx.reduction == "mean":
                scale = scale / count.clamp_min(1).to(dtype)
            return (dx * scale).to(x.dtype), None, None, None, None, None, None, None
        launch = ctx.launch
        grad = torch.empty_like(x)
        if launch.n:
            scale = grad_output.contiguous() if ctx.reduction == "none" else grad_output
            _sigmoid_focal_backward[launch.grid](*launch.pointers, grad, scale, count, launch.n,
                                                 *launch.scalars,
                                                 SCALE_PER_ELEMENT=ctx.reduction == "none",
                                                 MEAN=ctx.reduction == "mean",
                                                 BLOCK=BLOCK, **launch.flags)
        return grad, None, None, None, None, None, None, None


def sigmoid_focal_loss(x: Tensor, y: Tensor, alpha: float | Tensor | None, gamma: float,
                       pos_weight: Tensor | None, weight: Tensor | None,
                       ignore_index: int | None, reduction: str) -> Tensor:
    """Sigmoid focal loss of logits ``x``; see :func:`focalkit.functional.sigmoid_focal_loss`."""
    return _SigmoidFocalFunction.apply(x, y, alpha, gamma, pos_weight, weight, ignore_index,
                                       reduction)
