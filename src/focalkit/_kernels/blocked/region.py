"""Per-class region statistics of softmax probabilities, saving nothing of the input's size."""

from __future__ import annotations

import torch
from torch import Tensor

from ..._tensor import compute_dtype
from .. import BLOCKED
from ..plain import region as plain
from ..plain.region import RegionStatsOptions, as_stats, flat_index, index_sums


class _IndexStatsFunction(torch.autograd.Function):
    r"""(TP, sum of p, count) of softmax probabilities, saving nothing of the input's size.

    The forward pass reduces the softmax to per-class sums and lets it go; the backward pass
    recomputes it once. With :math:`a = \partial L / \partial TP` and
    :math:`b = \partial L / \partial \sum p` (per image and class), the gradient with respect
    to the probabilities is :math:`b_c + a_c [t_i = c]`; through the softmax it becomes

    .. math::
        \frac{\partial L}{\partial x_{ci}} = p_{ci}\,(b_c - s_i) + [t_i = c]\,a_c\,p_{ci},
        \qquad s_i = \sum_k p_{ki} b_k + a_{t_i} p_{t_i i}:

    one broadcast subtraction and one multiplication over the input, plus a scatter of one
    value per position.
    """

    @staticmethod
    def forward(ctx, x, t, valid):
        tp, p_sum, count = index_sums(x, t, valid, True)
        ctx.save_for_backward(x, t, valid)
        ctx.mark_non_differentiable(count)
        return tp, p_sum, count

    @staticmethod
    def backward(ctx, grad_tp, grad_p_sum, _):
        x, t, valid = ctx.saved_tensors
        if torch.is_grad_enabled():
            # Higher-order gradients: differentiate the plain composition instead.
            with torch.enable_grad():
                tp, p_sum, _ = index_sums(x, t, valid, True)
            dx = torch.autograd.grad((tp, p_sum), x, (grad_tp, grad_p_sum),
                                     create_graph=True)[0]
            return dx, None, None
        dtype = compute_dtype(x)
        xc = x if valid is None else torch.where(valid.unsqueeze(1), x, 0.0)
        p = torch.softmax(xc.to(dtype), dim=1)
        a, b = grad_tp.to(dtype), grad_p_sum.to(dtype)
        index = t.unsqueeze(1)
        a_p_t = a.gather(1, t) * p.gather(1, index).squeeze(1)
        s = torch.bmm(b.unsqueeze(1), p).squeeze(1) + a_p_t
        grad = torch.sub(b.unsqueeze(2), s.unsqueeze(1)).mul_(p)
        del p
        grad.scatter_add_(1, index, a_p_t.unsqueeze(1))
        if valid is not None:
            grad.masked_fill_(~valid.unsqueeze(1), 0.0)
        return grad.to(x.dtype), None, None


@BLOCKED.implements(plain.region_stats,
                    takes=lambda x, options: options.is_index and options.from_logits)
def region_stats(input: Tensor, target: Tensor,
                 options: RegionStatsOptions) -> tuple[Tensor, Tensor, Tensor]:
    """Per-image, per-class (TP, FP, FN) of ``softmax(input)`` for class-index targets."""
    x, t, valid = flat_index(input, target, options.ignore_index)
    return as_stats(*_IndexStatsFunction.apply(x, t, valid))
