"""Kernels of the losses, apart from the documented API in :mod:`focalkit.functional`.

:mod:`focalkit._dispatch` decides which implementation runs; each kernel package offers the
losses it accelerates through the same small interface, inputs and options in, the loss out,
with the gradient formed by the package's own autograd Function:

* ``sigmoid_focal_loss(x, y, alpha, gamma, pos_weight, weight, ignore_index, reduction)``
* ``softmax_focal_loss(x, target, alpha, gamma, ignore_index, reduction)``
* ``index_stats(x, t, valid)``: per-image, per-class (TP, sum of p, count) of the softmax
* ``dense_stats(x, q, valid, activation)``: per-image, per-class (TP, sum of p, sum of q) for
  a target of the input's shape (Triton only)
* ``softmax_focal_loss_soft(x, target, alpha, gamma, ignore_index, label_smoothing, is_index,
  reduction)``: label smoothing and probability targets (Triton only)
* ``lovasz_softmax(...)``, ``lovasz_hinge(...)``: the sort-based Functions both packages share
* ``accepts(loss, x, *options)``: whether a kernel takes this call's options

The blocked CPU kernels of the asymmetric and varifocal losses (``cpu/asymmetric.py``,
``cpu/detection.py``) are reached by their functional modules directly; they have no Triton
counterpart, so the dispatch offers them the ``"blocked"`` backend only.

:mod:`focalkit._kernels.common` holds the formulas that the plain path and the kernels share.
"""
