r"""Long-tail softmax losses: logit adjustment (balanced softmax) and LDAM.

Both are cross-entropy on shifted logits. The shift depends on the class frequencies of the
training set, so that a rare class must win by a larger margin than a frequent one:

* :func:`logit_adjusted_cross_entropy` adds :math:`\tau \log \pi_c` to every logit
  (Menon et al., 2021). With :math:`\tau = 1` and :math:`\pi` the class frequencies it is the
  Balanced Softmax of Ren et al. (2020).
* :func:`ldam_loss` subtracts a per-class margin :math:`m_c \propto n_c^{-1/4}` from the
  true-class logit only, then scales all logits by :math:`s` (Cao et al., 2019).

The third classic remedy for a long tail, the class-balanced loss of Cui et al. (2019), needs
no function of its own: it is a focal or cross-entropy loss whose class weights are the
inverse effective numbers of samples, :func:`focalkit.weights.class_weights` with
``method="effective_number"``. With the paper's CIFAR-10-LT counts (imbalance 100) and
:math:`\beta = 0.9999`, the 5,000 images of the head class count as about 3,935 effective
samples, and the tail class weighs about 79 times as much as the head:

>>> import torch
>>> from focalkit import class_weights
>>> from focalkit.functional import softmax_focal_loss
>>> counts = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
>>> beta = 0.9999
>>> round((1 - beta ** 5000) / (1 - beta))
3935
>>> w = class_weights(counts=counts, method="effective_number", beta=beta)
>>> round(float(w[-1] / w[0]), 1)
78.9
>>> x, t = torch.randn(8, 10), torch.randint(0, 10, (8,))
>>> loss = softmax_focal_loss(x, t, alpha=w, gamma=1.0)  # class-balanced focal loss
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .. import _dispatch
from .._checks import (
    check_class_target,
    check_class_values,
    check_float_tensor,
    check_ignore_index,
    check_real,
    check_reduction,
    class_vector,
    value_checks,
)
from .._kernels.plain import long_tail as plain
from .._kernels.plain.long_tail import LDAMOptions, LogitAdjustedOptions
from .._kernels.plain.long_tail import ldam_margins as margins_of

__all__ = ["logit_adjusted_cross_entropy", "ldam_loss", "ldam_margins"]

CountsLike = Sequence[float] | Tensor


def _positive_vector(name: str, value: object, num_classes: int, like: Tensor) -> Tensor:
    """A length-C vector of positive, finite values (class counts or prior probabilities)."""
    vector = class_vector(name, value, num_classes, like=like, high=None, integers=True)
    if vector is None:
        raise TypeError(f"{name} must be a sequence or tensor of {num_classes} positive "
                        f"values; got None")
    how = value_checks(vector)
    if how == "device":
        torch._assert_async((vector > 0).all(), f"{name} must be positive for every class")
    elif how == "eager" and bool((vector <= 0).any()):
        zero = int(torch.nonzero(vector <= 0)[0, 0])
        raise ValueError(f"{name} must be positive for every class (a class with no samples "
                         f"has no finite log-prior or margin); got {float(vector[zero]):g} "
                         f"for class {zero}")
    return vector.detach()




def _check_common(input: Tensor, target: object, weight: object, ignore_index: object,
                  reduction: object, label_smoothing: object
                  ) -> tuple[bool, Tensor, Tensor | None, int | None, float]:
    check_float_tensor("input", input)
    is_index = check_class_target(input, target)
    check_reduction(reduction)
    ignore_index = check_ignore_index(ignore_index)
    label_smoothing = check_real("label_smoothing", label_smoothing, low=0.0, high=1.0)
    c = input.shape[1]
    weight = class_vector("weight", weight, c, like=input, high=None)
    target = check_class_values(target, is_index, c, ignore_index)
    return is_index, target, weight, ignore_index, label_smoothing


def _long(target: Tensor, is_index: bool) -> Tensor:
    """Class indices as int64 (what :func:`torch.nn.functional.cross_entropy` takes)."""
    return target.long() if is_index else target




def logit_adjusted_cross_entropy(input: Tensor, target: Tensor, *,
                                 class_counts: CountsLike | None = None,
                                 prior: CountsLike | None = None, tau: float = 1.0,
                                 weight: CountsLike | None = None, ignore_index: int = -100,
                                 reduction: str = "mean",
                                 label_smoothing: float = 0.0) -> Tensor:
    r"""Logit-adjusted cross-entropy (Menon et al., 2021); Balanced Softmax for ``tau=1``.

    .. math::
        \ell = -\log \frac{\exp(x_t + \tau \log \pi_t)}{\sum_c \exp(x_c + \tau \log \pi_c)},
        \qquad \pi_c = \frac{n_c}{\sum_k n_k}

    the cross-entropy of the logits shifted by :math:`\tau` times the log class prior. Training
    against the prior this way makes the *unshifted* logits :math:`x` estimate the balanced
    (class-uniform) posterior: at test time, predict :math:`\arg\max_c x_c` as usual. With
    :math:`\tau = 1` and :math:`\pi` the training frequencies this is the Balanced Softmax
    loss (Ren et al., 2020); with :math:`\tau = 0` it is plain cross-entropy. Only ratios of
    the prior matter (a constant shift of every logit leaves the softmax unchanged), so
    ``prior`` need not sum to 1.

    Args:
        input: logits of shape :math:`(N, C, *)`.
        target: class indices :math:`(N, *)` (integer dtype) or class probabilities
            :math:`(N, C, *)` (floating dtype).
        class_counts: training samples per class, C positive values. Give this or ``prior``.
        prior: class prior :math:`\pi`, C positive values (only their ratios matter). Give
            this or ``class_counts``.
        tau: temperature :math:`\tau \ge 0` of the adjustment. Default: 1.0.
        weight: per-class weights as in :func:`torch.nn.functional.cross_entropy`.
            Default: None.
        ignore_index: class index to skip (index targets only); ignored positions get exactly
            zero gradient even when their logits are NaN or inf. Default: -100.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. ``"mean"`` follows
            :func:`torch.nn.functional.cross_entropy` (divided by the summed ``weight`` of the
            kept positions), and is 0 when every position is ignored. Default: ``"mean"``.
        label_smoothing: in [0, 1], as in :func:`torch.nn.functional.cross_entropy`.
            Default: 0.0.

    Shape:
        - input: :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`.
        - target: :math:`(N)` / :math:`(N, d_1, ..., d_K)` indices, or the shape of ``input``.
        - output: scalar, or :math:`(N, d_1, ..., d_K)` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` is neither integer nor
            floating point, or neither / both of ``class_counts`` and ``prior`` are given.
        ValueError: on a shape mismatch, a class index outside ``[0, C)`` (other than
            ``ignore_index``), counts or prior with the wrong number of values or a value that
            is not positive, ``tau < 0``, ``label_smoothing`` outside [0, 1], or an unknown
            ``reduction``.

    References:
        A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit, S. Kumar. Long-tail
        Learning via Logit Adjustment. ICLR 2021. https://arxiv.org/abs/2007.07314

        J. Ren, C. Yu, S. Sheng, X. Ma, H. Zhao, S. Yi, H. Li. Balanced Meta-Softmax for
        Long-Tailed Visual Recognition. NeurIPS 2020. https://arxiv.org/abs/2007.10740

    Example:
        A balanced prior shifts every logit by the same amount: plain cross-entropy.

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit.functional import logit_adjusted_cross_entropy
        >>> x, t = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
        >>> torch.allclose(logit_adjusted_cross_entropy(x, t, class_counts=[50, 50, 50]),
        ...                F.cross_entropy(x, t))
        True

        With a long tail, a sample of the head class costs less, one of the tail class more:

        >>> x = torch.zeros(2, 3)
        >>> logit_adjusted_cross_entropy(x, torch.tensor([0, 2]), class_counts=[90, 9, 1],
        ...                              reduction="none")
        tensor([0.1054, 4.6052])
    """
    is_index, target, weight, ignore_index, label_smoothing = _check_common(
        input, target, weight, ignore_index, reduction, label_smoothing)
    tau = check_real("tau", tau, low=0.0)
    if (class_counts is None) == (prior is None):
        raise TypeError("logit_adjusted_cross_entropy needs exactly one of class_counts and "
                        "prior; got " + ("neither" if prior is None else "both"))
    c = input.shape[1]
    if prior is None:
        prior = _positive_vector("class_counts", class_counts, c, input)
    else:
        prior = _positive_vector("prior", prior, c, input)
    options = LogitAdjustedOptions(prior.detach(), tau, weight, ignore_index, label_smoothing,
                                   is_index, reduction)
    target = _long(target, is_index)
    return _dispatch.run(plain.logit_adjusted_cross_entropy, input, target, options)


def ldam_margins(class_counts: CountsLike, *, max_margin: float = 0.5) -> Tensor:
    r"""The LDAM margins :math:`m_c \propto n_c^{-1/4}`, the largest equal to ``max_margin``.

    .. math::
        m_c = m_\text{max} \left(\frac{\min_k n_k}{n_c}\right)^{1/4}

    Args:
        class_counts: training samples per class, C positive values.
        max_margin: the margin of the rarest class, ``> 0``. Default: 0.5.

    Returns:
        Tensor: float64 margins of shape :math:`(C,)`.

    Raises:
        TypeError: if ``class_counts`` is not a sequence or tensor of numbers.
        ValueError: if a count is not positive or ``max_margin <= 0``.

    Example:
        A class with 16 times more samples gets half the margin:

        >>> from focalkit.functional import ldam_margins
        >>> ldam_margins([160, 10], max_margin=0.5)
        tensor([0.2500, 0.5000], dtype=torch.float64)
    """
    max_margin = check_real("max_margin", max_margin, low=0.0, low_open=True)
    if isinstance(class_counts, Tensor):
        counts = class_counts.detach().to("cpu", torch.float64)
    else:
        try:
            counts = torch.as_tensor(class_counts, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"class_counts must be a sequence or tensor of numbers; got "
                            f"{type(class_counts).__name__}") from err
    if counts.dim() != 1 or counts.numel() == 0:
        raise ValueError(f"class_counts must be a non-empty 1-D sequence, one count per class; "
                         f"got shape {tuple(counts.shape)}")
    return margins_of(_positive_vector("class_counts", counts, counts.numel(), counts),
                    max_margin)




def ldam_loss(input: Tensor, target: Tensor, *, class_counts: CountsLike,
              max_margin: float = 0.5, scale: float = 30.0, weight: CountsLike | None = None,
              ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    r"""Label-distribution-aware margin loss (Cao et al., 2019).

    .. math::
        \ell = -\log \frac{e^{s (x_t - m_t)}}{e^{s (x_t - m_t)} + \sum_{c \ne t} e^{s x_c}},
        \qquad m_c = m_\text{max} \left(\frac{\min_k n_k}{n_c}\right)^{1/4}

    cross-entropy after subtracting the class-dependent margin :math:`m_t` from the true-class
    logit and scaling every logit by :math:`s`: a rare class must beat the others by a larger
    margin, which enlarges its decision region where its few samples leave it too small. The
    margins are those of :func:`ldam_margins`. The paper pairs the loss with a cosine
    classifier (normalised features and class weights, so that :math:`x_c \in [-1, 1]`), for
    which ``scale=30`` is meant; on unnormalised logits use ``scale=1``. It also defers
    re-weighting: ``weight`` (e.g. ``class_weights(counts=counts, method="effective_number")``) is
    switched on late in training, which a :class:`focalkit.GammaScheduler` with
    ``param="weight"`` and ``schedule="deferred"`` does.

    Args:
        input: logits of shape :math:`(N, C, *)` (cosine similarities for ``scale=30``).
        target: class indices :math:`(N, *)`, integer dtype.
        class_counts: training samples per class, C positive values.
        max_margin: the margin :math:`m_\text{max} > 0` of the rarest class. Default: 0.5.
        scale: :math:`s > 0`, multiplies every logit after the margin. Default: 30.0.
        weight: per-class weights as in :func:`torch.nn.functional.cross_entropy`.
            Default: None.
        ignore_index: class index to skip; ignored positions get exactly zero gradient even
            when their logits are NaN or inf. Default: -100.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``; ``"mean"`` as in
            :func:`logit_adjusted_cross_entropy`. Default: ``"mean"``.

    Shape:
        - input: :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`.
        - target: :math:`(N)` or :math:`(N, d_1, ..., d_K)`.
        - output: scalar, or :math:`(N, d_1, ..., d_K)` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point or ``target`` does not hold class
            indices.
        ValueError: on a shape mismatch, a class index outside ``[0, C)`` (other than
            ``ignore_index``), counts with the wrong number of values or a value that is not
            positive, ``max_margin <= 0``, ``scale <= 0``, or an unknown ``reduction``.

    References:
        K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma. Learning Imbalanced Datasets with
        Label-Distribution-Aware Margin Loss. NeurIPS 2019. https://arxiv.org/abs/1906.07413

    Example:
        Without a margin it is cross-entropy of the scaled logits:

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit.functional import ldam_loss
        >>> x, t = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
        >>> torch.allclose(ldam_loss(x, t, class_counts=[90, 9, 1], max_margin=1e-12,
        ...                          scale=2.0), F.cross_entropy(2.0 * x, t))
        True
    """
    is_index, target, weight, ignore_index, _ = _check_common(input, target, weight,
                                                              ignore_index, reduction, 0.0)
    if not is_index:
        raise TypeError(f"ldam_loss needs class-index targets (integer dtype, shape (N, *)); "
                        f"got a floating-point target of shape {tuple(target.shape)}")
    scale = check_real("scale", scale, low=0.0, low_open=True)
    max_margin = check_real("max_margin", max_margin, low=0.0, low_open=True)
    margins = margins_of(_positive_vector("class_counts", class_counts, input.shape[1], input),
                       max_margin)
    options = LDAMOptions(margins, scale, weight, ignore_index, reduction)
    target = _long(target, True)
    return _dispatch.run(plain.ldam_loss, input, target, options)
