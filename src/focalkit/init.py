"""Initialisation for classification heads trained with sigmoid losses."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ._checks import check_real

__all__ = ["prior_bias", "prior_bias_"]


def prior_bias(prior: float = 0.01) -> float:
    r"""The bias :math:`b` with :math:`\sigma(b) = \pi`, the RetinaNet prior initialisation.

    .. math::
        b = -\log\frac{1 - \pi}{\pi}

    An untrained head with zero bias predicts :math:`p = 0.5` for every anchor; with tens of
    thousands of negative anchors per image, their loss swamps the first steps and can make
    training diverge. Starting every output at the foreground prior :math:`\pi` avoids that.

    Args:
        prior: the probability :math:`\pi` the untrained head should predict, in (0, 1): a
            number or a 0-d tensor (such as ``y.float().mean()``). Default: 0.01.

    Returns:
        float: the bias.

    Raises:
        ValueError: if ``prior`` is not in (0, 1).

    References:
        T.-Y. Lin et al. Focal Loss for Dense Object Detection. ICCV 2017, section 4.1.

    Example:
        >>> import math
        >>> from focalkit.init import prior_bias
        >>> round(prior_bias(0.01), 4)
        -4.5951
        >>> 1 / (1 + math.exp(-prior_bias(0.2)))  # sigmoid(b) recovers the prior
        0.2
    """
    if isinstance(prior, Tensor) and prior.dim() == 0 and not prior.is_complex() \
            and prior.dtype != torch.bool:
        prior = prior.item()
    prior = check_real("prior", prior, low=0.0, high=1.0, low_open=True, high_open=True)
    return -math.log((1.0 - prior) / prior)


@torch.no_grad()
def prior_bias_(module_or_tensor: nn.Module | Tensor,
                prior: float | Sequence[float] = 0.01) -> nn.Module | Tensor:
    r"""Fill a bias in place so that ``sigmoid(bias) == prior``.

    .. math::
        b = -\log\frac{1 - \pi}{\pi}

    Args:
        module_or_tensor: a module with a ``bias`` parameter (``nn.Conv2d``, ``nn.Linear``)
            or the bias tensor itself.
        prior: one prior for every output (a number or a 0-d tensor such as
            ``y.float().mean()``), or one per output (a sequence or 1-D tensor, such as
            ``y.float().mean(0)``). A sequence whose length divides the number of outputs is
            repeated, which suits RetinaNet heads whose ``A * K`` outputs are ``A`` anchors
            times ``K`` classes. Default: 0.01.

    Returns:
        The module or tensor, modified in place.

    Raises:
        TypeError: if a module has no bias, or ``prior`` is not a number, a sequence of
            numbers or a 0-d / 1-D tensor.
        ValueError: if a prior is not in (0, 1) or the number of priors does not divide the
            number of outputs.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from focalkit.init import prior_bias_
        >>> head = prior_bias_(nn.Conv2d(8, 9 * 3, 3), prior=0.01)
        >>> torch.sigmoid(head.bias[:3])
        tensor([0.0100, 0.0100, 0.0100], grad_fn=<SigmoidBackward0>)
    """
    if isinstance(module_or_tensor, Tensor):
        bias = module_or_tensor
    elif isinstance(module_or_tensor, nn.Module):
        bias = getattr(module_or_tensor, "bias", None)
        if not isinstance(bias, Tensor):
            raise TypeError(f"module must have a bias tensor; {type(module_or_tensor).__name__} "
                            f"has bias={bias!r}")
    else:
        raise TypeError(f"module_or_tensor must be an nn.Module or a Tensor; got "
                        f"{type(module_or_tensor).__name__}")
    if isinstance(prior, Tensor) and prior.dim() == 1:
        prior = prior.tolist()
    if isinstance(prior, Sequence) and not isinstance(prior, str):
        values = [prior_bias(p) for p in prior]
        if not values or bias.numel() % len(values):
            raise ValueError(f"prior must have a number of values that divides the "
                             f"{bias.numel()} outputs; got {len(values)}")
        filled = torch.tensor(values, dtype=bias.dtype, device=bias.device)
        bias.copy_(filled.repeat(bias.numel() // len(values)).reshape(bias.shape))
    else:
        bias.fill_(prior_bias(prior))
    return module_or_tensor
