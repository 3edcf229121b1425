"""A focalkit loss for Hugging Face ``Trainer``: ``Trainer(compute_loss_func=loss_func(...))``.

``Trainer`` calls ``compute_loss_func(outputs, labels, num_items_in_batch=...)`` and uses the
result as it is: it does not divide by the number of gradient accumulation steps, because it
expects the function to normalise by ``num_items_in_batch``, the number of labels other than
-100 in the whole accumulated batch (every micro-batch of one optimizer step). This module
does that, so that accumulating gradients over micro-batches gives the gradients of one big
batch. Nothing here imports ``transformers``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import Tensor

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
    the accumulated batch), the loss of a micro-batch holding :math:`m` of them becomes

    .. math::
        \ell' = \ell\,\frac{m}{M},

    so that, for a loss whose ``"mean"`` is the mean over the labels other than -100 (every
    focalkit focal loss; not :class:`torch.nn.CrossEntropyLoss` with ``weight``), the
    micro-batch losses add up to the loss of the accumulated batch and gradient accumulation
    reproduces big-batch gradients. A loss that is not a mean over labels (Dice, Lovász, a
    :class:`~focalkit.ComboLoss` holding one) is weighted by the micro-batch's share of the
    labels, the closest one can get. Without ``num_items_in_batch`` the loss is returned as
    it is.

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
            expects.

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
        value = loss(input, target)
        if num_items_in_batch is None:
            return value
        if isinstance(num_items_in_batch, Tensor):
            num_items_in_batch = num_items_in_batch.to(value.device)
        items = labels.ne(IGNORE_INDEX).sum().to(value.device)
        return value * (items / num_items_in_batch)

    return compute_loss
