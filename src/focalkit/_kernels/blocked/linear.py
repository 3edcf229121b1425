r"""Softmax focal loss over a linear layer, in chunks: the logits are never held whole.

For features :math:`x` ``(M, H)``, a weight :math:`W` ``(C, H)`` and a bias :math:`b`, the rows
are taken a chunk at a time. A chunk's logits :math:`z = x_r W^\top + b` come from one
``addmm`` (the BLAS does the work); their row maxima and sums of exponentials give the
log-sum-exp and :math:`\log p_t`; from those the loss and the per-row coefficients of the
logit gradient follow (:func:`row_terms`). With :math:`p = \mathrm{softmax}(z)`,

.. math::
    \frac{\partial \ell}{\partial z_j} = a\,p_j - b\,[j = t]
        - \frac{\varepsilon_s}{C}\,k_j, \qquad
    a = S + 2\lambda_z\,\mathrm{lse}, \quad b = (1 - \varepsilon_s)\,k_t, \quad
    S = (1 - \varepsilon_s)\,k_t + \frac{\varepsilon_s}{C} \sum_c k_c

with :math:`k_c` the focal (and Poly-1) coefficient of class :math:`c`
(:func:`focalkit._kernels.plain.focal.focal_poly_terms`), :math:`\varepsilon_s` the label smoothing
and :math:`\lambda_z` the z-loss weight. The gradient :math:`G` of the chunk is formed in the
chunk's own buffer, and the three products of the materialised loss follow chunk by chunk:
:math:`\nabla_x = G W` for the chunk's rows, :math:`\nabla_W \mathrel{+}= G^\top x_r`,
:math:`\nabla_b \mathrel{+}= \sum_r G`.

With ``"mean"`` or ``"sum"`` the gradient is formed in the forward pass (the scale
:math:`1 / \text{count}` is known by then) and backward only multiplies it by the output's
gradient: three matrix products in all, as many as the materialised loss. With ``"none"`` the
output's gradient weights the rows of :math:`G` before :math:`\nabla_W` sums them, so the
forward keeps three numbers per row (lse, :math:`a`, :math:`b`) and backward computes each
chunk's logits again: a fourth product.

A chunk holds at most :data:`CHUNK` logits. When a chunk of :data:`ROWS` rows would hold
more, the classes are split too: a first pass over the class chunks keeps a running maximum
and sum of exponentials per row (an online log-sum-exp), a second pass forms the gradient
(label smoothing needs one more for :math:`\sum_c k_c`).

On the CPU the ignored rows are left out before the first product (one host read of the
mask); elsewhere (meta tensors, other devices) they are zeroed and given zero coefficients.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..._tensor import compute_dtype, ignore_mask
from .. import BLOCKED
from ..plain import linear as plain
from ..plain.focal import focal_poly_terms
from ..plain.linear import LinearSoftmaxFocalOptions as Options
from .blocks import CLASS_BLOCK

__all__ = ["CHUNK", "ROWS", "Chunk", "apply", "linear_softmax_focal_loss", "plan", "row_terms"]

#: Most logits in one chunk: 8 Mi, 32 MiB of float32.
CHUNK = 1 << 23
#: Fewest rows in a chunk, unless the input has fewer: each chunk adds :math:`G^\top x_r` to
#: the whole weight gradient, a product that runs at full speed only when the rows are many.
ROWS = 256


#: Most logits in one slab, the rows of a chunk whose element-wise passes run together:
#: 8 MiB of float32 stay in the shared L3 cache, where a whole chunk would stream from memory
#: at every pass (:data:`focalkit._kernels.blocked.blocks.CLASS_BLOCK`).
SLAB = CLASS_BLOCK


class Plan(NamedTuple):
    """Rows and classes of one chunk."""

    rows: int
    classes: int


def plan(rows: int, classes: int, chunk_size: int | None) -> Plan:
    """The chunk shape: ``chunk_size`` rows (or enough for :data:`CHUNK` logits, at least
    :data:`ROWS`), and all the classes unless that would exceed :data:`CHUNK` logits."""
    step = chunk_size if chunk_size is not None else max(ROWS, CHUNK // max(classes, 1))
    step = max(1, min(step, rows))
    width = classes if step * classes <= CHUNK else max(CHUNK // step, 1)
    return Plan(step, width)


class Grads(NamedTuple):
    """The gradient accumulators (None where no gradient is needed)."""

    x: Tensor | None
    weight: Tensor | None
    bias: Tensor | None


def new_grads(rows: int, weight: Tensor, needs: tuple[bool, ...], dtype: torch.dtype) -> Grads:
    classes, features = weight.shape
    device = weight.device
    return Grads(
        torch.empty((rows, features), dtype=dtype, device=device) if needs[0] else None,
        torch.zeros((classes, features), dtype=dtype, device=device) if needs[1] else None,
        torch.zeros(classes, dtype=dtype, device=device) if needs[2] else None)


def logits(x: Tensor, weight: Tensor, bias: Tensor | None, start: int, stop: int,
           buffer: Tensor) -> Tensor:
    """``x @ weight[start:stop].T + bias[start:stop]``, written into ``buffer``."""
    out = buffer[: x.shape[0] * (stop - start)].view(x.shape[0], stop - start)
    if bias is None:
        return torch.mm(x, weight[start:stop].T, out=out)
    return torch.addmm(bias[start:stop], x, weight[start:stop].T, out=out)


def accumulate(grad: Tensor, x: Tensor, weight: Tensor, rows: slice, start: int, stop: int,
               grads: Grads, first: bool) -> None:
    """Add the products of one chunk's logit gradient ``grad`` to the accumulators."""
    if grads.x is not None:
        if first:
            torch.mm(grad, weight[start:stop], out=grads.x[rows])
        else:
            grads.x[rows].addmm_(grad, weight[start:stop])
    if grads.weight is not None:
        grads.weight[start:stop].addmm_(grad.T, x)
    if grads.bias is not None:
        grads.bias[start:stop] += grad.sum(0)


def row_terms(log_pt: Tensor, lse: Tensor, alpha_t: Tensor | None, term_sum: Tensor | None,
              coeff_sum: Tensor | None, keep: Tensor | None, opts: Options, classes: int,
              with_grad: bool) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Loss and gradient coefficients ``(a, b)`` of each row (see the module docstring).

    ``term_sum`` and ``coeff_sum`` are :math:`\\sum_c \\alpha_c f_c` and
    :math:`\\sum_c k_c` over the classes, needed with label smoothing only. ``keep`` (None
    for all) zeroes the rows it marks False.
    """
    loss, coeff = focal_poly_terms(log_pt, alpha_t, opts.gamma, opts.epsilon, with_grad)
    smoothing = opts.label_smoothing
    a = b = None
    if smoothing != 0.0:
        loss = (1.0 - smoothing) * loss + (smoothing / classes) * term_sum
    if opts.z_loss != 0.0:
        loss = loss + opts.z_loss * lse.square()
    if with_grad:
        b = coeff if smoothing == 0.0 else (1.0 - smoothing) * coeff
        a = b if smoothing == 0.0 else b + (smoothing / classes) * coeff_sum
        if opts.z_loss != 0.0:
            a = a + (2.0 * opts.z_loss) * lse
    if keep is not None:
        loss = torch.where(keep, loss, 0.0)
        if with_grad:
            a, b = torch.where(keep, a, 0.0), torch.where(keep, b, 0.0)
    return loss, a, b


class Prepared(NamedTuple):
    """The operands in the compute dtype, with the rows to compute.

    ``rows`` lists the kept rows when the ignored ones are left out (else None); ``keep`` marks
    the kept rows of ``x`` when they are zeroed instead (else None); ``count`` is the number
    of kept rows, a tensor.
    """

    x: Tensor
    target: Tensor
    weight: Tensor
    bias: Tensor | None
    alpha: Tensor | None
    rows: Tensor | None
    keep: Tensor | None
    count: Tensor
    dtype: torch.dtype


def prepare(x: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor,
            alpha: Tensor | None, ignore_index: int | None, compact: bool) -> Prepared:
    """Cast the operands to the compute dtype and find the rows to compute.

    With ``compact`` (CPU tensors) ignored rows are left out when there are any; otherwise
    they stay, marked by ``keep``.
    """
    dtype = compute_dtype(x)
    valid, t = ignore_mask(target, ignore_index)
    rows = keep = None
    if valid is None:
        count = torch.full((), x.shape[0], device=x.device)  # no host-to-device copy
    else:
        count = valid.sum()
        if compact:
            if int(count) < x.shape[0]:
                rows = valid.nonzero().squeeze(1)
                x, t = x.index_select(0, rows), t.index_select(0, rows)
        else:
            keep = valid
    return Prepared(x, t, weight.to(dtype), None if bias is None else bias.to(dtype),
                    None if alpha is None else alpha.to(dtype), rows, keep, count, dtype)


def output(loss: Tensor, ops: Prepared, rows: int, reduction: str, out_dtype: torch.dtype
           ) -> Tensor:
    """The loss of every row (zeros at the rows left out) or its sum or mean."""
    if reduction == "none":
        if ops.rows is not None:
            loss = loss.new_zeros(rows).index_copy_(0, ops.rows, loss)
        return loss.to(out_dtype)
    total = loss.sum(dtype=torch.float64)
    if reduction == "mean":
        total = total / ops.count.clamp_min(1).to(total.dtype)
    return total.to(out_dtype)


def full_rows(grad: Tensor | None, ops: Prepared, rows: int) -> Tensor | None:
    """The input gradient of every row: zeros at the rows left out."""
    if grad is None or ops.rows is None:
        return grad
    return grad.new_zeros((rows, grad.shape[1])).index_copy_(0, ops.rows, grad)


def row_scale(opts: Options, count: Tensor, dtype: torch.dtype) -> Tensor:
    """The factor of every row's gradient in a reduced loss: 1 / count for ``"mean"``."""
    if opts.reduction == "mean":
        return 1.0 / count.clamp_min(1).to(dtype)
    return torch.ones((), dtype=dtype, device=count.device)


def scale_saved(grads: tuple[Tensor | None, ...], grad_output: Tensor) -> list[Tensor | None]:
    """The gradients saved by the forward of a reduced loss, times the output's gradient.

    On the CPU a gradient of exactly 1 (``loss.backward()``) returns them as they are, which
    lets autograd take them over without a copy.
    """
    if grad_output.device.type == "cpu" and bool(grad_output == 1):
        return list(grads)
    return [None if g is None else (g * grad_output.to(g.dtype)) for g in grads]


def higher_order(ctx, grad_output: Tensor, plain) -> tuple[Tensor | None, ...]:
    """Backward with ``create_graph=True``: autograd's gradient of the plain composition
    ``plain(x, weight, bias)``, itself differentiable."""
    x, weight, bias = ctx.saved_tensors[:3]
    inputs = [t for t, need in zip((x, weight, bias), ctx.needs_input_grad[:3], strict=True)
              if need]
    found = iter(torch.autograd.grad(plain(x, weight, bias), inputs, grad_output,
                                     create_graph=True))
    return tuple(next(found) if need else None for need in ctx.needs_input_grad[:3])


# ---------------------------------------------------------------------------------------------
# One chunk of rows
# ---------------------------------------------------------------------------------------------


_LOG2E = 1.4426950408889634


def _exp_(z: Tensor) -> Tensor:
    """:math:`e^z` in place, as :math:`2^{z \\log_2 e}`: ``exp2`` is several times faster than
    ``exp`` on the CPU."""
    return z.mul_(_LOG2E).exp2_()


def _target_column(z: Tensor, t: Tensor, start: int) -> tuple[Tensor, Tensor]:
    """(whether each row's target lies in the class chunk from ``start``, its column there)."""
    inside = (t >= start) & (t < start + z.shape[1])
    return inside, (t - start).clamp(0, z.shape[1] - 1).unsqueeze(1)


def _grad_(probs: Tensor, scale: Tensor, coeff: Tensor | None, t: Tensor, b: Tensor,
           start: int, opts: Options, classes: int, factor: Tensor) -> Tensor:
    """Turn ``probs`` (the chunk's :math:`p`, or its :math:`e^{z - \\max}` with ``scale``
    holding :math:`1/S`) into the chunk's gradient :math:`a p - b\\,[j = t] - (\\varepsilon_s / C)
    k`, times the row factor ``factor``, in place."""
    grad = probs.mul_(scale.unsqueeze(1))
    if coeff is not None:
        grad.addcmul_(coeff, factor.expand(grad.shape[0]).unsqueeze(1),
                      value=-opts.label_smoothing / classes)
    inside, column = _target_column(grad, t, start)
    hot = torch.where(inside, b * factor, 0.0).unsqueeze(1)
    return grad.scatter_add_(1, column, hot.neg_())


class Chunk:
    """The rows of one chunk: their features, targets, kept mask and per-row statistics,
    and the passes over the chunk's logits that form the loss and the gradient."""

    @staticmethod
    def compacts(x: Tensor) -> bool:
        """Whether the ignored rows are left out (on the CPU: one host read of the mask)."""
        return x.device.type == "cpu"

    #: The chunk shape for ``(rows, classes, chunk_size)``.
    plan = staticmethod(plan)

    def __init__(self, ops: Prepared, rows: slice, opts: Options, size: Plan,
                 buffer: Tensor) -> None:
        self.ops, self.slice, self.opts, self.size, self.buffer = ops, rows, opts, size, buffer
        x = ops.x[rows].to(ops.dtype)
        self.keep = None if ops.keep is None else ops.keep[rows]
        if self.keep is not None:
            x = torch.where(self.keep.unsqueeze(1), x, 0.0)
        self.x, self.t = x, ops.target[rows]
        self.classes = ops.weight.shape[0]
        self.single = size.classes >= self.classes
        self.smoothing = opts.label_smoothing != 0.0
        # What statistics() leaves for gradient(): here the chunk's finished logit gradient.
        self.state: object = None

    def logits(self, start: int) -> Tensor:
        ops = self.ops
        stop = min(start + self.size.classes, self.classes)
        return logits(self.x, ops.weight, ops.bias, start, stop, self.buffer)

    def starts(self) -> range:
        return range(0, self.classes, self.size.classes)

    def slabs(self, width: int) -> list[slice]:
        """The chunk's rows in slabs of about :data:`SLAB` logits of a class chunk of
        ``width`` classes."""
        step = max(1, SLAB // max(width, 1))
        return [slice(i, i + step) for i in range(0, self.x.shape[0], step)]

    def alpha_t(self, rows: slice = slice(None)) -> Tensor | None:
        return None if self.ops.alpha is None else self.ops.alpha[self.t[rows]]

    def alpha_of(self, start: int, stop: int) -> Tensor | None:
        return None if self.ops.alpha is None else self.ops.alpha[start:stop]

    def keep_of(self, rows: slice) -> Tensor | None:
        return None if self.keep is None else self.keep[rows]

    # -- statistics ---------------------------------------------------------------------------

    def statistics(self, with_grad: bool, factor: Tensor | None = None
                   ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """Loss, lse, a and b of every row. With one class chunk and ``factor`` (the row
        factor of a gradient wanted now), the chunk's logit gradient is formed in the same
        pass, slab by slab while each slab is in cache, and left for :meth:`gradient`."""
        if self.single:
            z = self.logits(0)
            parts = [self._slab(z[rows], rows, with_grad, factor)
                     for rows in self.slabs(self.classes)]
            if factor is not None:
                self.state = z
            loss, lse, a, b = (None if part[0] is None else torch.cat(part)
                               for part in zip(*parts, strict=True))
            return loss, lse, a, b
        lse, log_pt = self._online()
        term_sum = coeff_sum = None
        if self.smoothing:
            term_sum, coeff_sum = self._smoothing_sums(lse, with_grad)
        loss, a, b = row_terms(log_pt, lse, self.alpha_t(), term_sum, coeff_sum, self.keep,
                               self.opts, self.classes, with_grad)
        return loss, lse, a, b

    def _slab(self, z: Tensor, rows: slice, with_grad: bool, factor: Tensor | None):
        """:meth:`statistics` of the rows ``rows`` of a chunk with every class, whose logits
        ``z`` become their gradient when ``factor`` is given."""
        t = self.t[rows]
        index = t.unsqueeze(1)
        coeff = coeff_sum = term_sum = inverse = None
        if not self.smoothing:
            high = z.amax(1)
            z_t = z.gather(1, index).squeeze(1)
            exps = _exp_(z.sub_(high.unsqueeze(1)))
            log_total = exps.sum(1).log_()
            lse = high + log_total
            log_pt = (z_t - high) - log_total
            inverse = torch.exp(-log_total)
        else:
            lse = torch.logsumexp(z, 1)
            log_p = z.sub_(lse.unsqueeze(1))
            term, coeff = focal_poly_terms(log_p, self.alpha_of(0, self.classes),
                                           self.opts.gamma, self.opts.epsilon, with_grad)
            log_pt = log_p.gather(1, index).squeeze(1)
            term_sum = term.sum(1)
            if with_grad:
                coeff_sum = coeff.sum(1)
            del term
            exps = _exp_(log_p)
        loss, a, b = row_terms(log_pt, lse, self.alpha_t(rows), term_sum, coeff_sum,
                               self.keep_of(rows), self.opts, self.classes, with_grad)
        if factor is not None:
            f = factor if factor.dim() == 0 else factor[rows]
            scale = a * f if inverse is None else a * f * inverse
            _grad_(exps, scale, coeff, t, b, 0, self.opts, self.classes, f)
        return loss, lse, a, b

    def _online(self) -> tuple[Tensor, Tensor]:
        """lse and log p_t of every row in one pass over the class chunks."""
        rows = self.x.shape[0]
        dtype, device = self.ops.dtype, self.x.device
        high = torch.full((rows,), float("-inf"), dtype=dtype, device=device)
        total = torch.zeros(rows, dtype=dtype, device=device)
        z_t = torch.zeros(rows, dtype=dtype, device=device)
        for start in self.starts():
            z = self.logits(start)
            for part in self.slabs(z.shape[1]):
                zs = z[part]
                inside, column = _target_column(zs, self.t[part], start)
                z_t[part] = torch.where(inside, zs.gather(1, column).squeeze(1), z_t[part])
                new_high = torch.maximum(high[part], zs.amax(1))
                # A row whose logits so far are all -inf: shift by 0, not by -inf.
                shift = torch.where(new_high == float("-inf"), 0.0, new_high)
                total[part] = total[part] * torch.exp(high[part] - shift) \
                    + _exp_(zs.sub_(shift.unsqueeze(1))).sum(1)
                high[part] = new_high
        log_total = total.log()
        return high + log_total, (z_t - high) - log_total

    def _smoothing_sums(self, lse: Tensor, with_grad: bool) -> tuple[Tensor, Tensor | None]:
        """:math:`\\sum_c \\alpha_c f_c` and :math:`\\sum_c k_c` of every row: one more
        pass."""
        term_sum = torch.zeros_like(lse)
        coeff_sum = torch.zeros_like(lse) if with_grad else None
        for start in self.starts():
            z = self.logits(start)
            alpha = self.alpha_of(start, start + z.shape[1])
            for part in self.slabs(z.shape[1]):
                log_p = z[part].sub_(lse[part].unsqueeze(1))
                term, coeff = focal_poly_terms(log_p, alpha, self.opts.gamma,
                                               self.opts.epsilon, with_grad)
                term_sum[part] += term.sum(1)
                if with_grad:
                    coeff_sum[part] += coeff.sum(1)
        return term_sum, coeff_sum

    # -- gradient -----------------------------------------------------------------------------

    def gradient(self, lse: Tensor, a: Tensor, b: Tensor, factor: Tensor, grads: Grads) -> None:
        """Add the products of the chunk's logit gradient, times ``factor`` (a scalar or one
        per row), to ``grads``: the gradient :meth:`statistics` formed, or else one formed
        from each class chunk's logits computed again."""
        ops = self.ops
        if self.state is not None:
            grad, self.state = self.state, None
            accumulate(grad, self.x, ops.weight, self.slice, 0, self.classes, grads, True)
            return
        for start in self.starts():
            z = self.logits(start)
            stop = start + z.shape[1]
            alpha = self.alpha_of(start, stop)
            for part in self.slabs(z.shape[1]):
                log_p = z[part].sub_(lse[part].unsqueeze(1))
                coeff = None
                if self.smoothing:
                    _, coeff = focal_poly_terms(log_p, alpha, self.opts.gamma,
                                                self.opts.epsilon, True)
                f = factor if factor.dim() == 0 else factor[part]
                _grad_(_exp_(log_p), a[part] * f, coeff, self.t[part], b[part], start,
                       self.opts, self.classes, f)
            accumulate(z, self.x, ops.weight, self.slice, start, stop, grads, start == 0)


# ---------------------------------------------------------------------------------------------
# The autograd Function
# ---------------------------------------------------------------------------------------------


def _plain(target: Tensor, alpha: Tensor | None, opts: Options):
    """The plain composition as a function of ``(x, weight, bias)``."""

    def loss(x, weight, bias):
        options = opts._replace(weight=weight, bias=bias, alpha=alpha)
        return plain.linear_softmax_focal_loss(x, target, options)

    return loss


def chunked_forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor,
                    alpha: Tensor | None, opts: Options, kind: type[Chunk]) -> Tensor:
    """The forward of an autograd Function over chunks of type ``kind``: the loss, and the
    gradients (``"mean"``, ``"sum"``) or the statistics to form them (``"none"``) saved."""
    needs = tuple(ctx.needs_input_grad[:3])
    with_grad = any(needs)
    fused = with_grad and opts.reduction != "none"
    ops = prepare(x, weight, bias, target, alpha, opts.ignore_index, kind.compacts(x))
    rows = ops.x.shape[0]
    size = kind.plan(rows, weight.shape[0], opts.chunk_size)
    buffer = torch.empty(size.rows * size.classes, dtype=ops.dtype, device=x.device)
    loss = torch.empty(rows, dtype=ops.dtype, device=x.device)
    grads = new_grads(rows, weight, needs, ops.dtype) if fused else None
    factor = row_scale(opts, ops.count, ops.dtype) if fused else None
    saved = torch.empty((3, rows), dtype=ops.dtype, device=x.device) \
        if with_grad and not fused else None
    for start in range(0, rows, size.rows):
        span = slice(start, start + size.rows)
        chunk = kind(ops, span, opts, size, buffer)
        loss[span], lse, a, b = chunk.statistics(with_grad, factor)
        if fused:
            chunk.gradient(lse, a, b, factor, grads)
        elif with_grad:
            saved[0, span], saved[1, span], saved[2, span] = lse, a, b
    ctx.opts, ctx.fused, ctx.kind = opts, fused, kind
    if fused:
        ctx.save_for_backward(x, weight, bias, target, alpha,
                              *_finished(grads, ops, x, weight, bias))
    else:
        ctx.save_for_backward(x, weight, bias, target, alpha, saved)
    return output(loss, ops, x.shape[0], opts.reduction, x.dtype)


def chunked_backward(ctx, grad_output: Tensor) -> tuple:
    """The gradients of ``(x, weight, bias)`` after :func:`chunked_forward`, over the same
    chunks."""
    opts, kind = ctx.opts, ctx.kind
    x, weight, bias, target, alpha = ctx.saved_tensors[:5]
    if torch.is_grad_enabled():
        grads = higher_order(ctx, grad_output, _plain(target, alpha, opts))
    elif ctx.fused:
        grads = scale_saved(ctx.saved_tensors[5:], grad_output)
    else:
        grads = _recompute(x, weight, bias, target, alpha, ctx.saved_tensors[5], grad_output,
                           opts, tuple(ctx.needs_input_grad[:3]), kind)
    return tuple(grads)


def _finished(grads: Grads, ops: Prepared, x: Tensor, weight: Tensor,
              bias: Tensor | None) -> tuple[Tensor | None, ...]:
    """The accumulated gradients for every row of ``x``, in the operands' dtypes."""
    return (None if grads.x is None else full_rows(grads.x, ops, x.shape[0]).to(x.dtype),
            None if grads.weight is None else grads.weight.to(weight.dtype),
            None if grads.bias is None else grads.bias.to(bias.dtype))


def _recompute(x, weight, bias, target, alpha, saved, grad_output, opts, needs, kind):
    """The gradients of the per-row loss (``"none"``): each chunk's logits once more."""
    ops = prepare(x, weight, bias, target, alpha, opts.ignore_index, kind.compacts(x))
    rows = ops.x.shape[0]
    size = kind.plan(rows, weight.shape[0], opts.chunk_size)
    buffer = torch.empty(size.rows * size.classes, dtype=ops.dtype, device=x.device)
    go = grad_output.to(ops.dtype)
    if ops.rows is not None:
        go = go.index_select(0, ops.rows)
    grads = new_grads(rows, weight, needs, ops.dtype)
    for start in range(0, rows, size.rows):
        span = slice(start, start + size.rows)
        lse, a, b = saved[:, span]
        kind(ops, span, opts, size, buffer).gradient(lse, a, b, go[span], grads)
    return _finished(grads, ops, x, weight, bias)


class _LinearSoftmaxFocalFunction(torch.autograd.Function):
    """Chunked forward over chunks of the given kind (:class:`Chunk`, or the Triton backend's
    subclass); the gradient formed in the forward (``"mean"``, ``"sum"``) or, for ``"none"``,
    in a backward that computes the logits again."""

    @staticmethod
    def forward(ctx, x, weight, bias, target, alpha, opts, kind):
        return chunked_forward(ctx, x, weight, bias, target, alpha, opts, kind)

    @staticmethod
    def backward(ctx, grad_output):
        return (*chunked_backward(ctx, grad_output), None, None, None, None)


def apply(kind: type[Chunk], x: Tensor, target: Tensor, options: Options) -> Tensor:
    """The loss over chunks of type ``kind`` of the options' tensors; the autograd context
    keeps only the scalar options. Without grad mode the weight and the bias are detached, so
    that no gradient is formed."""
    weight, bias = options.weight, options.bias
    if not torch.is_grad_enabled():
        weight, bias = weight.detach(), None if bias is None else bias.detach()
    scalars = options._replace(weight=None, bias=None, alpha=None)
    return _LinearSoftmaxFocalFunction.apply(x, weight, bias, target, options.alpha, scalars,
                                             kind)


@BLOCKED.implements(plain.linear_softmax_focal_loss)
def linear_softmax_focal_loss(x: Tensor, target: Tensor, options: Options) -> Tensor:
    """Softmax focal loss of ``x @ weight.T + bias`` for features ``x`` ``(M, H)`` and class
    indices ``target`` ``(M,)``; see :func:`focalkit.functional.linear_softmax_focal_loss`."""
    return apply(Chunk, x, target, options)
