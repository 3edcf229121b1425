"""Class weights from class frequencies."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import Tensor

from ._checks import check_choice, check_real

__all__ = ["class_weights", "binary_alpha", "alpha_from_class_weights"]

METHODS = ("inverse", "sqrt_inverse", "effective_number")


def _as_array(name: str, values: object) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a sequence, array or tensor of numbers") from err
    if array.dtype.kind not in "iuf" or array.ndim != 1:
        raise TypeError(f"{name} must be a 1-D sequence, array or tensor of numbers; got "
                        f"dtype {array.dtype} with {array.ndim} dimension(s)")
    return array


def _preview(values: list, limit: int = 8) -> str:
    """``values`` for an error message: the first ``limit`` of them and how many there are."""
    if len(values) <= limit:
        return str(values)
    return f"[{', '.join(str(v) for v in values[:limit])}, ...] ({len(values)} values)"


def class_weights(*, counts: object = None, labels: object = None, num_classes: int | None = None,
                  method: str = "inverse", beta: float = 0.999,
                  normalize: bool = True) -> Tensor:
    r"""Per-class weights that grow as classes get rarer.

    With :math:`n_c` the number of samples of class :math:`c`:

    .. math::
        \text{inverse}: \frac{1}{n_c} \qquad
        \text{sqrt\_inverse}: \frac{1}{\sqrt{n_c}} \qquad
        \text{effective\_number}: \frac{1 - \beta}{1 - \beta^{n_c}}

    The effective number of samples (Cui et al., 2019) saturates: with :math:`\beta \to 0`
    every class gets the same weight, with :math:`\beta \to 1` it tends to inverse frequency.

    The class frequencies are given one of two ways, always by keyword so that a vector of
    labels is never read as counts: ``counts=`` (one count per class) or ``labels=`` with
    ``num_classes=`` (labels to count; a class that never occurs still gets its weight).

    Args:
        counts: the number of samples of each class, finite and non-negative. Default: None.
        labels: a 1-D collection of integer labels in ``[0, num_classes)``. Default: None.
        num_classes: the number of classes; required with ``labels``, and checked against
            the number of ``counts`` when given with them. Default: None.
        method: ``"inverse"`` | ``"sqrt_inverse"`` | ``"effective_number"``.
            Default: ``"inverse"``.
        beta: in [0, 1), for ``"effective_number"``. Default: 0.999.
        normalize: scale the weights to sum to the number of classes (mean 1), so that the
            loss keeps the scale of its unweighted form. Default: True.

    Returns:
        Tensor: float32 weights of shape ``(C,)``, usable as ``alpha`` in
        :func:`~focalkit.functional.softmax_focal_loss` or ``weight`` in
        :func:`torch.nn.functional.cross_entropy`.

    Raises:
        TypeError: if neither or both of ``counts`` and ``labels`` are given, or they are not
            1-D numbers (integers for ``labels``).
        ValueError: for an unknown method; negative or non-finite counts; ``labels`` without
            ``num_classes``, or outside ``[0, num_classes)``; a ``num_classes`` that does not
            match the counts; a class with zero samples under ``"inverse"`` or
            ``"sqrt_inverse"`` (its weight would be infinite); or ``beta`` outside [0, 1).

    References:
        Y. Cui, M. Jia, T.-Y. Lin, Y. Song, S. Belongie. Class-Balanced Loss Based on
        Effective Number of Samples. CVPR 2019. https://arxiv.org/abs/1901.05555

    Example:
        >>> from focalkit.weights import class_weights
        >>> class_weights(counts=[100, 10, 1], normalize=False)
        tensor([0.0100, 0.1000, 1.0000])
        >>> w = class_weights(counts=[100, 10, 1], method="effective_number", beta=0.9)
        >>> round(float(w.sum()), 4)  # normalised to sum to the number of classes
        3.0
        >>> class_weights(labels=[0, 0, 0, 1, 2, 2], num_classes=3, normalize=False)
        tensor([0.3333, 1.0000, 0.5000])
    """
    check_choice("method", method, METHODS)
    beta = check_real("beta", beta, low=0.0, high=1.0, high_open=True)
    if (counts is None) == (labels is None):
        raise TypeError(f"class_weights needs counts=... (one count per class) or labels=..., "
                        f"num_classes=... (labels to count); got "
                        f"{'both' if counts is not None else 'neither'}")
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(
            num_classes, numbers.Integral) or num_classes < 1):
        raise ValueError(f"num_classes must be a positive int; got {num_classes!r}")
    if counts is not None:
        counts = _as_array("counts", counts).astype(np.float64)
        if not np.isfinite(counts).all():
            raise ValueError(f"counts must be finite; got {_preview(counts.tolist())}")
        if counts.size == 0 or (counts < 0).any():
            raise ValueError(f"counts must be a non-empty list of non-negative numbers; got "
                             f"{_preview(counts.tolist())}")
        if num_classes is not None and num_classes != counts.size:
            raise ValueError(f"num_classes must equal the number of counts (one per class); got "
                             f"num_classes={num_classes} for {counts.size} counts (to count "
                             f"labels, pass labels=... instead)")
    else:
        if num_classes is None:
            raise ValueError("labels need num_classes (a class may never occur in them); got "
                             "num_classes=None")
        array = _as_array("labels", labels)
        if array.size == 0:
            array = array.astype(np.int64)  # np.asarray([]) is float64
        if array.dtype.kind == "f":
            raise TypeError(f"labels must be integers; got dtype {array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= num_classes):
            raise ValueError(f"labels must lie in [0, {num_classes - 1}]; got values in "
                             f"[{array.min()}, {array.max()}]")
        counts = np.bincount(array, minlength=num_classes).astype(np.float64)
    if method == "effective_number":
        with np.errstate(divide="ignore", invalid="ignore"):  # empty classes, replaced below
            weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
        weights[counts == 0] = 1.0 if beta == 0.0 else weights[counts > 0].max(initial=1.0)
    else:
        if (counts == 0).any():
            empty = np.flatnonzero(counts == 0).tolist()
            raise ValueError(f"every class needs at least one sample for method {method!r}; "
                             f"class(es) {_preview(empty)} have none (use 'effective_number', "
                             f"whose weights stay finite)")
        weights = 1.0 / counts if method == "inverse" else 1.0 / np.sqrt(counts)
    if normalize:
        weights = weights * (len(weights) / weights.sum())
    return torch.as_tensor(weights, dtype=torch.float32)


def binary_alpha(pos_fraction: float) -> float:
    r"""The ``alpha`` of a sigmoid focal loss that balances positives against negatives.

    With a fraction :math:`f` of positive targets, :math:`\alpha = 1 - f` gives both classes
    the same total weight, :math:`\alpha f = (1 - \alpha)(1 - f)`. Note that with
    :math:`\gamma > 0` the paper found a *smaller* alpha (0.25) best: the focal term already
    removes most of the easy negatives' weight.

    Args:
        pos_fraction: the fraction of positive targets, in (0, 1).

    Returns:
        float: ``1 - pos_fraction``.

    Raises:
        ValueError: if ``pos_fraction`` is not in (0, 1).

    Example:
        >>> from focalkit.weights import binary_alpha
        >>> binary_alpha(0.1)
        0.9
    """
    f = check_real("pos_fraction", pos_fraction, low=0.0, high=1.0, low_open=True,
                   high_open=True)
    return 1.0 - f


def alpha_from_class_weights(weights: object) -> float:
    r"""The sigmoid loss's ``alpha`` from the two class weights of a binary problem.

    :func:`class_weights` returns one weight per class, ``(w_0, w_1)`` for negatives and
    positives, while the sigmoid focal loss takes the positives' share as one number:

    .. math::
        \alpha = \frac{w_1}{w_0 + w_1}

    With inverse-frequency weights this is :func:`binary_alpha` of the positive fraction.

    Args:
        weights: two non-negative weights, negatives first, not both zero (a sequence, array
            or tensor).

    Returns:
        float: ``alpha`` in [0, 1].

    Raises:
        TypeError: if ``weights`` is not a 1-D collection of numbers.
        ValueError: if it does not hold exactly two finite weights >= 0 with a positive sum.

    Example:
        >>> from focalkit.weights import alpha_from_class_weights, binary_alpha, class_weights
        >>> alpha = alpha_from_class_weights(class_weights(counts=[950, 50]))
        >>> round(alpha, 6), binary_alpha(0.05)
        (0.95, 0.95)
    """
    w = _as_array("weights", weights).astype(np.float64)
    if w.shape != (2,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be two finite weights >= 0 (negatives, positives) "
                         f"with a positive sum; got {w.tolist()}")
    return float(w[1] / w.sum())
