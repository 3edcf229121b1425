"""Sums over the processes of the default ``torch.distributed`` group, with autograd."""

from __future__ import annotations

from torch import Tensor


def all_reduce_sum(stats: Tensor) -> Tensor:
    """Sum ``stats`` over the processes of the default group; the tensor itself when
    ``torch.distributed`` is not initialised.

    Uses the functional collective ``all_reduce``, whose registered backward sums the
    incoming gradients over the processes too: the gradient reaching ``stats`` on each
    process is the sum over processes of the gradients of the reduced tensor.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return stats
    from torch.distributed import _functional_collectives as collectives

    return collectives.wait_tensor(collectives.all_reduce(stats, "sum", dist.group.WORLD))
