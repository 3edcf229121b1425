r"""Generalized Dice loss (Sudre et al., 2017): one Dice ratio over all classes, each class
weighted by the inverse of its target volume.

It is built on the per-class statistics of :func:`focalkit.functional.region_stats`
(see :mod:`focalkit.functional.region`), shared with the other region losses.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from .._checks import check_choice
from .._kernels.plain.region import WEIGHTINGS, generalized_dice
from .._tensor import reduce
from .region import region_options, statistics

__all__ = ["generalized_dice_loss"]





def generalized_dice_loss(input: Tensor, target: Tensor, *, weighting: str = "square",
                          mode: str = "multiclass", from_logits: bool = True,
                          smooth: float = 0.0, classes: Sequence[int] | Tensor | None = None,
                          ignore_index: int | None = None, per_image: bool = False,
                          reduction: str = "mean", sync_dist: bool = False,
                          intersection: str = "product") -> Tensor:
    r"""Generalized Dice loss (Sudre et al., 2017).

    .. math::
        \mathrm{GD} = \frac{2 \sum_c w_c\,TP_c + s}
                           {\sum_c w_c\,(2\,TP_c + FP_c + FN_c) + s}, \qquad
        \ell = 1 - \mathrm{GD}, \qquad
        w_c = \frac{1}{V_c^2}, \ \frac{1}{V_c} \ \text{or} \ 1

    for ``weighting`` ``"square"`` (the paper's), ``"simple"`` or ``"uniform"``, with
    :math:`V_c = TP_c + FN_c = \sum_i q_{ic}` the target volume of class :math:`c` and the
    statistics of :func:`region_stats` summed over the batch (over each image with
    ``per_image``). Unlike the mean of per-class Dice losses, the classes are pooled into one
    ratio; the weights give each class about the same say, whatever its size (the weights are
    constants: no gradient flows through them).

    A class absent from the target (:math:`V_c = 0`) would get an infinite weight. It gets the
    largest weight of the classes that are present instead (MONAI's rule, so a false alarm of
    an absent class costs as much as an error on the rarest present class). When no selected
    class is present at all, every weight is 1 (MONAI sets them to 0 there, which makes the
    loss 0 whatever the prediction); when there is also nothing predicted, the loss is 0.

    Args:
        input: logits of shape :math:`(N, C, *)`: softmax over ``C`` in ``"multiclass"``
            mode, an independent sigmoid per channel in ``"binary"`` / ``"multilabel"``
            mode; probabilities with ``from_logits=False``. Binary mode also takes
            :math:`(N, *)`.
        target: ``"multiclass"``: class indices :math:`(N, *)` (integer dtype) or class
            probabilities :math:`(N, C, *)` (float). ``"binary"`` / ``"multilabel"``: the
            shape of ``input``, values in [0, 1].
        weighting: ``"square"`` | ``"simple"`` | ``"uniform"``. Default: ``"square"``.
        mode: ``"multiclass"`` | ``"binary"`` | ``"multilabel"``. Default: ``"multiclass"``.
        from_logits: whether ``input`` holds logits (True) or probabilities. Default: True.
        smooth: :math:`s \ge 0`, added to numerator and denominator. The weighted sums scale
            as :math:`1/V` (``"square"``), so a fixed ``smooth`` matters more for large
            volumes. Default: 0.0.
        classes: the class indices to pool (weights are computed among them), or None for
            all. Default: None.
        ignore_index: target value of positions to leave out of every sum (in multiclass
            mode, class-index targets only). Default: None.
        per_image: one ratio per image (weights from that image's volumes) instead of one
            for the batch. Default: False.
        reduction: over images with ``per_image``: ``"none"`` | ``"mean"`` | ``"sum"``.
            Default: ``"mean"``.
        sync_dist: sum the statistics over the ``torch.distributed`` processes before the
            weights and the ratio (see :func:`dice_loss`). Needs ``per_image=False``.
            Default: False.
        intersection: ``"product"`` | ``"min"`` (soft-label form, see :func:`dice_loss`).
            Default: ``"product"``.

    Shape:
        - output: scalar; with ``reduction="none"`` and ``per_image``, :math:`(N,)`.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` has an unsupported dtype, or
            an option has the wrong type.
        ValueError: for an unknown ``weighting``, ``mode``, ``reduction`` or
            ``intersection``; shapes that do not fit the mode; class indices out of range;
            targets or probabilities outside [0, 1]; ``classes`` out of range, empty or
            repeated; ``smooth < 0``; or ``sync_dist`` with ``per_image``.

    References:
        C. H. Sudre, W. Li, T. Vercauteren, S. Ourselin, M. J. Cardoso. Generalised Dice
        Overlap as a Deep Learning Loss Function for Highly Unbalanced Segmentations.
        DLMIA 2017. https://arxiv.org/abs/1707.03237

    Example:
        With uniform weights and one class it is the Dice loss; with the square weights a
        small class counts as much as a large one:

        >>> import torch
        >>> from focalkit.functional import dice_loss, generalized_dice_loss
        >>> x, y = torch.randn(2, 1, 6, 6), torch.randint(0, 2, (2, 1, 6, 6))
        >>> torch.allclose(generalized_dice_loss(x, y, mode="binary"),
        ...                dice_loss(x, y, mode="binary"))
        True
        >>> t = torch.zeros(1, 10, dtype=torch.long); t[0, 9] = 1   # 9 pixels vs 1
        >>> p = torch.tensor([[[1.0] * 10, [0.0] * 10]])            # misses class 1
        >>> generalized_dice_loss(p, t, from_logits=False, weighting="uniform")
        tensor(0.1000)
        >>> generalized_dice_loss(p, t, from_logits=False)
        tensor(0.8200)
    """
    weighting = check_choice("weighting", weighting, WEIGHTINGS)
    options = region_options(input, target, mode=mode, from_logits=from_logits, smooth=smooth,
                             eps=1.0, classes=classes, ignore_index=ignore_index,
                             per_image=per_image, log_loss=False, reduction=reduction,
                             sync_dist=sync_dist, intersection=intersection)
    tp, fp, fn = statistics(input, target, options)
    loss = generalized_dice(tp, fp, fn, weighting=weighting, smooth=options.smooth)
    return reduce(loss, options.reduction).to(input.dtype)
