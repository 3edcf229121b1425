"""A focalkit loss for Hugging Face ``Trainer``: ``Trainer(compute_loss_func=loss_func(...))``.

``Trainer`` calls ``compute_loss_func(outputs, labels, num_items_in_batch=...)`` and uses the
result as it is: it does not divide by the number of gradient accumulation steps, because it
expects the function to normalise by ``num_items_in_batch``, the number of labels other than
-100 in the whole accumulated batch (every micro-batch of one optimizer step). This module
does that, so that accumulating gradients over micro-batches gives the gradients of one big
batch. Nothing here imports ``transformers``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from torch import Tensor, nn

from .._checks import check_choice

__all__ = ["IGNORE_INDEX", "PROBLEM_TYPES", "loss_func"]

PROBLEM_TYPES = ("single_label_classification", "multi_label_classification",
                 "token_classification")
IGNORE_INDEX = -100
"""The label ``Trainer`` leaves out of ``num_items_in_batch`` (padding, sub-word tokens)."""

LOGIT_DIMS = {"single_label_classification": 2, "multi_label_classification": 2,
              "token_classification": 3}


def _logits(outputs: object) -> Tensor:
    """The logits of a model output, a mapping with ``"logits"``, a tuple, or a tensor."""
    if isinstance(outputs, Tensor):
        return outputs
    if isinstance(outputs, Mapping):
        return outputs["logits"]
    logits = getattr(outputs, "logits", None)
    return outputs[0] if logits is None else logits


def _reduction(loss: object) -> str:
    """``"sum"`` or ``"mean"``, the reduction of a loss whose micro-batch sums add up to the
    accumulated batch's; a ValueError naming the reason for any other loss."""
    from ..nn import ComboLoss

    name = type(loss).__name__
    if isinstance(loss, ComboLoss):
        if loss.functions:
            raise ValueError(f"loss: the ComboLoss terms {sorted(loss.functions)} are functions, "
                             "which cannot be made exact under gradient accumulation; pass "
                             "modules")
        kinds = {_reduction(term) for term in loss.losses.values()}
        if len(kinds) > 1:
            raise ValueError("loss: the ComboLoss terms mix reduction='mean' and 'sum'; "
                             "gradient accumulation needs one reduction for all terms")
        return kinds.pop()
    if not isinstance(loss, nn.Module):
        raise ValueError(f"loss must be a focalkit loss module for num_items_in_batch (its "
                         f"reduction is set to 'sum'); got {name}")
    mean_over = getattr(loss, "_mean_over", "positions")
    if mean_over == "batch":
        raise ValueError(f"loss: {name} is not a mean over the labels num_items_in_batch "
                         "counts (a ratio over the whole batch, or a mean over pixels and "
                         "classes), so no split into micro-batches gives its value; use "
                         "gradient_accumulation_steps=1 or a per-position loss")
    reduction = getattr(loss, "reduction", None)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"loss must have reduction 'mean' or 'sum' under gradient "
                         f"accumulation; got {name} with reduction={reduction!r}")
    if reduction == "mean" and mean_over == "weights" and loss.weight is not None:
        raise ValueError(f"loss: {name} with weight and reduction='mean' divides by the summed "
                         "weights of the whole accumulated batch, which Trainer does not pass "
                         "(num_items_in_batch counts labels); use reduction='sum' or no weight")
    return reduction


@contextmanager
def _summing(loss: nn.Module) -> Iterator[None]:
    """Every ``reduction`` of ``loss`` and its submodules set to ``"sum"`` for one call."""
    saved = [(module, module.reduction) for module in loss.modules()
             if isinstance(getattr(module, "reduction", None), str)]
    try:
        for module, _ in saved:
            module.reduction = "sum"
        yield
    finally:
        for module, reduction in saved:
            module.reduction = reduction


def loss_func(loss: Callable[[Tensor, Tensor], Tensor], *,
              problem_type: str) -> Callable[..., Tensor]:
    r"""Wrap a loss for ``Trainer(compute_loss_func=...)``.

    The returned function takes ``(outputs, labels, num_items_in_batch=None)``, reads
    ``outputs.logits`` and calls ``loss`` the way ``problem_type`` says:

    * ``"single_label_classification"``: logits :math:`(N, C)`, labels :math:`(N)` class
      indices; use a softmax loss, which skips the label -100 by default
      (:class:`~focalkit.SoftmaxFocalLoss`, ``FocalLoss("multiclass")``).
    * ``"multi_label_classification"``: logits :math:`(N, C)`, labels :math:`(N, C)` of 0/1
      (integer labels are converted to the logits' dtype); use a sigmoid loss
      (:class:`~focalkit.SigmoidFocalLoss`, ``FocalLoss("multilabel")``).
    * ``"token_classification"``: logits :math:`(N, L, C)`, labels :math:`(N, L)` with -100
      for the tokens to skip; the logits are passed as :math:`(N, C, L)`, the layout every
      focalkit loss takes.

    When ``Trainer`` passes ``num_items_in_batch`` (:math:`M`, the labels other than -100 in
    the accumulated batch), a loss with ``reduction="mean"``, the mean over the labels other
    than -100 (every per-position focalkit loss: focal, Poly-1, asymmetric, long-tail and
    detection losses, and a :class:`~focalkit.ComboLoss` of them), is evaluated with
    ``reduction="sum"`` and divided by :math:`M`:

    .. math::
        \ell' = \frac{1}{M} \sum_{i \in \text{micro-batch}} \ell_i,

    so the micro-batch losses add up to the loss of the accumulated batch exactly, in the
    logits' dtype, and gradient accumulation reproduces big-batch gradients. A loss with
    ``reduction="sum"`` is returned as its micro-batch sum. What no split can make exact is
    rejected when the function is called with ``num_items_in_batch``: ``reduction="none"``,
    the set and boundary losses (Dice, Jaccard, Tversky, generalized Dice, unified focal,
    Lovász, clDice, boundary, Hausdorff), a weighted mean (Poly-1, LDAM or logit-adjusted
    with ``weight``, whose mean divides by the summed weights of the whole accumulated batch)
    and plain functions. Without ``num_items_in_batch`` the loss is returned as it is.

    Args:
        loss: a loss module or function of ``(input, target)`` with a scalar result.
        problem_type: ``"single_label_classification"`` | ``"multi_label_classification"`` |
            ``"token_classification"``.

    Returns:
        Callable: ``compute_loss(outputs, labels, num_items_in_batch=None) -> Tensor``.

    Raises:
        TypeError: if ``loss`` is not callable.
        ValueError: for an unknown ``problem_type``; and, from the returned function, when
            ``labels`` is None or the logits do not have the dimensions ``problem_type``
            expects, or, with ``num_items_in_batch``, for a loss that gradient accumulation
            cannot reproduce exactly (see above).

    Example:
        Two micro-batches normalised by the labels of both give the loss of the whole batch:

        >>> import torch
        >>> from types import SimpleNamespace
        >>> from focalkit import SoftmaxFocalLoss
        >>> from focalkit.integrations.transformers import loss_func
        >>> compute = loss_func(SoftmaxFocalLoss(), problem_type="token_classification")
        >>> logits = torch.randn(2, 5, 3)
        >>> labels = torch.tensor([[0, 1, 2, -100, -100], [2, 2, 1, 0, 1]])
        >>> total = int((labels != -100).sum())
        >>> parts = [compute(SimpleNamespace(logits=logits[i:i + 1]), labels[i:i + 1], total)
        ...          for i in range(2)]
        >>> torch.allclose(sum(parts), compute(SimpleNamespace(logits=logits), labels))
        True
    """
    check_choice("problem_type", problem_type, PROBLEM_TYPES)
    if not callable(loss):
        raise TypeError(f"loss must be a loss module or function; got {type(loss).__name__}")
    dims = LOGIT_DIMS[problem_type]

    def compute_loss(outputs: object, labels: Tensor | None,
                     num_items_in_batch: Tensor | int | None = None) -> Tensor:
        if labels is None:
            raise ValueError("labels must be given: the dataset needs a 'labels' column for "
                             "compute_loss_func")
        logits = _logits(outputs)
        if logits.dim() != dims:
            raise ValueError(f"logits must have {dims} dimensions for problem_type "
                             f"{problem_type!r}; got shape {tuple(logits.shape)}")
        input, target = logits, labels
        if problem_type == "token_classification":
            input = logits.movedim(-1, 1)
        elif problem_type == "multi_label_classification" and not labels.is_floating_point():
            target = labels.to(logits.dtype)
        if num_items_in_batch is None:
            return loss(input, target)
        reduction = _reduction(loss)
        with _summing(loss):
            value = loss(input, target)
        if reduction == "sum":
            return value
        if isinstance(num_items_in_batch, Tensor):
            num_items_in_batch = num_items_in_batch.to(value.device)
        return value / num_items_in_batch

    return compute_loss
