r"""The soft skeleton of clDice as an autograd Function that saves only its input.

Autograd through the plain composition (:func:`focalkit._kernels.plain.boundary.soft_skeleton`)
keeps a dozen tensors of the input's size per iteration and runs the generic backward of
every minimum and maximum. This Function computes the skeleton image by image in blocks that
stay in the cache, saves nothing but the input, and in the backward pass recomputes each
block's erosions and openings and sends every gradient straight to the position each
minimum or maximum came from: the position itself if it attains the extreme, else the first
neighbour that does (before, then after, along each axis in turn). Where several distinct
positions hold exactly the same extreme value, that is one valid subgradient among others.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import BLOCKED, TRITON
from ..plain import boundary as plain
from ..plain.boundary import SoftclDiceOptions
from ..plain.boundary import soft_skeleton as plain_skeleton
from .blocks import BLOCK


def _masked(x: Tensor, valid: Tensor | None, fill: float) -> Tensor:
    return x if valid is None else torch.where(valid, x, fill)


def _erode(x: Tensor, valid: Tensor | None) -> Tensor:
    """:func:`erode`, with in-place minima on slices instead of padded copies."""
    source = _masked(x, valid, math.inf)
    out = source.clone()
    for dim in range(2, x.dim()):
        length = x.shape[dim]
        head, tail = out.narrow(dim, 0, length - 1), out.narrow(dim, 1, length - 1)
        torch.minimum(tail, source.narrow(dim, 0, length - 1), out=tail)
        torch.minimum(head, source.narrow(dim, 1, length - 1), out=head)
    return _masked(out, valid, 0.0)


def _dilation_stages(x: Tensor, valid: Tensor | None) -> list[Tensor]:
    """The input of :func:`dilate` (masked) and its result after each axis."""
    stages = [_masked(x, valid, -math.inf)]
    for dim in range(2, x.dim()):
        length = x.shape[dim]
        previous = stages[-1]
        out = previous.clone()
        head, tail = out.narrow(dim, 0, length - 1), out.narrow(dim, 1, length - 1)
        torch.maximum(tail, previous.narrow(dim, 0, length - 1), out=tail)
        torch.maximum(head, previous.narrow(dim, 1, length - 1), out=head)
        stages.append(out)
    return stages


def _dilate(x: Tensor, valid: Tensor | None) -> Tensor:
    """:func:`dilate`, with in-place maxima on slices."""
    return _masked(_dilation_stages(x, valid)[-1], valid, 0.0)


def _skeleton(img: Tensor, iterations: int, valid: Tensor | None) -> Tensor:
    """:func:`plain_skeleton` with the in-place erosion and dilation (the same values)."""
    eroded = _erode(img, valid)
    skeleton = torch.relu(img - _dilate(eroded, valid))
    for _ in range(iterations):
        img = eroded
        eroded = _erode(img, valid)
        delta = torch.relu(img - _dilate(eroded, valid))
        skeleton = skeleton + torch.relu(delta - skeleton * delta)
    return skeleton


def _route(x: Tensor, y: Tensor, grad: Tensor, dims: range | tuple[int, ...]) -> Tensor:
    """Gradient with respect to ``x`` of ``y``, the minimum (or maximum) over each position
    of ``x`` and its neighbours along ``dims``."""
    out = torch.where(x == y, grad, 0.0)
    left = grad - out
    for dim in dims:
        length = x.shape[dim]
        # y[i] from x[i - 1]: the gradient goes back one step; then y[i] from x[i + 1].
        for src, dst in ((0, 1), (1, 0)):
            y_part = y.narrow(dim, dst, length - 1)
            left_part = left.narrow(dim, dst, length - 1)
            take = torch.where(x.narrow(dim, src, length - 1) == y_part, left_part, 0.0)
            left_part.sub_(take)
            out.narrow(dim, src, length - 1).add_(take)
    return out


def _erode_backward(x: Tensor, eroded: Tensor, grad: Tensor, valid: Tensor | None) -> Tensor:
    source = _masked(x, valid, math.inf)
    out = _route(source, eroded, _masked(grad, valid, 0.0), range(2, x.dim()))
    return _masked(out, valid, 0.0)


def _dilate_backward(x: Tensor, grad: Tensor, valid: Tensor | None) -> Tensor:
    stages = _dilation_stages(x, valid)
    grad = _masked(grad, valid, 0.0)
    for dim in reversed(range(2, x.dim())):
        grad = _route(stages[dim - 2], stages[dim - 1], grad, (dim,))
    return _masked(grad, valid, 0.0)


def _skeleton_backward(img: Tensor, valid: Tensor | None, grad: Tensor,
                       iterations: int) -> Tensor:
    """The gradient of :func:`plain_skeleton` with respect to ``img``, for one block."""
    eroded = [img]
    for _ in range(iterations + 1):
        eroded.append(_erode(eroded[-1], valid))
    gaps = [eroded[k] - _dilate(eroded[k + 1], valid) for k in range(iterations + 1)]
    deltas = [torch.relu(gap) for gap in gaps]
    skeletons, updates = [deltas[0]], [None]
    for k in range(1, iterations + 1):
        updates.append(deltas[k] - skeletons[-1] * deltas[k])
        skeletons.append(skeletons[-1] + torch.relu(updates[-1]))
    # S_k = S_{k-1} + relu(U_k), U_k = D_k - S_{k-1} D_k, D_k = relu(E_k - O_k)
    grad_deltas = [None] * (iterations + 1)
    for k in range(iterations, 0, -1):
        grad_update = torch.where(updates[k] > 0, grad, 0.0)
        grad_deltas[k] = grad_update - grad_update * skeletons[k - 1]
        grad = grad - grad_update * deltas[k]
    grad_deltas[0] = grad
    grad_gaps = [torch.where(gap > 0, g, 0.0) for gap, g in zip(gaps, grad_deltas,
                                                                 strict=True)]
    grad_eroded = [*grad_gaps, torch.zeros_like(img)]
    for k in range(iterations + 1):  # O_k = dilate(E_{k+1})
        grad_eroded[k + 1] = grad_eroded[k + 1] - _dilate_backward(eroded[k + 1],
                                                                   grad_gaps[k], valid)
    for k in range(iterations + 1, 0, -1):  # E_k = erode(E_{k-1})
        grad_eroded[k - 1] = grad_eroded[k - 1] + _erode_backward(eroded[k - 1], eroded[k],
                                                                  grad_eroded[k], valid)
    return grad_eroded[0]


def _blocks(img: Tensor) -> list[slice]:
    """Slices of whole images (dimension 0) of about :data:`BLOCK` elements on the CPU; one
    block elsewhere."""
    n = img.shape[0]
    per_image = max(img[:1].numel(), 1)
    rows = n if img.device.type != "cpu" else max(BLOCK // per_image, 1)
    return [slice(i, min(i + rows, n)) for i in range(0, max(n, 1), max(rows, 1))]


def _block(valid: Tensor | None, rows: slice) -> Tensor | None:
    return None if valid is None else valid[rows]


class _SoftSkeletonFunction(torch.autograd.Function):
    """See the module docstring."""

    @staticmethod
    def forward(ctx, img, valid, iterations):
        ctx.save_for_backward(img, valid)
        ctx.iterations = iterations
        with torch.no_grad():
            parts = [_skeleton(img[rows], iterations, _block(valid, rows))
                     for rows in _blocks(img)]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        img, valid = ctx.saved_tensors
        if torch.is_grad_enabled():
            # Higher-order gradients: differentiate the plain composition instead.
            with torch.enable_grad():
                skeleton = plain_skeleton(img, ctx.iterations, valid)
            return torch.autograd.grad(skeleton, img, grad, create_graph=True)[0], None, None
        parts = [_skeleton_backward(img[rows], _block(valid, rows), grad[rows], ctx.iterations)
                 for rows in _blocks(img)]
        return (parts[0] if len(parts) == 1 else torch.cat(parts)), None, None


def soft_skeleton(img: Tensor, iterations: int, valid: Tensor | None) -> Tensor:
    """The soft skeleton of ``(N, C, *spatial)`` values; ``valid`` is ``(N, 1, *spatial)``
    or None (see :func:`focalkit._kernels.plain.boundary.soft_skeleton`)."""
    return _SoftSkeletonFunction.apply(img, valid, iterations)


@TRITON.implements(plain.soft_cldice_loss)
@BLOCKED.implements(plain.soft_cldice_loss)
def soft_cldice_loss(input: Tensor, target: Tensor, options: SoftclDiceOptions) -> Tensor:
    """The soft-clDice loss with the skeletons from :func:`soft_skeleton`."""
    return plain.soft_cldice_loss(input, target, options, soft_skeleton)
