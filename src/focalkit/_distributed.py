"""Sums over the processes of the default ``torch.distributed`` group, with autograd."""

from __future__ import annotations

from torch import Tensor


def all_reduce_sum(stats: Tensor) -> Tensor:
    """Sum ``stats`` over the processes of the default group, with autograd support; the
    tensor itself when ``torch.distributed`` is not initialised."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return stats
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(stats, op=dist.ReduceOp.SUM)
