"""The implementations of the losses, apart from the documented API in :mod:`focalkit.functional`.

Three backends, one package each, every one offering its losses through the same typed
interface, :class:`KernelSet`:

* :mod:`~focalkit._kernels.plain`: the one differentiable statement of every formula,
  written with PyTorch operations and differentiated by autograd. It implements every loss;
  it is the path of ``torch.compile``, ``torch.func`` and forward-mode AD, and the reference
  the kernels are tested against.
* :mod:`~focalkit._kernels.blocked`: autograd Functions with closed-form gradients that walk
  the input in cache-sized blocks, written with eager PyTorch operations for the CPU.
* :mod:`~focalkit._kernels.triton`: fused Triton kernels for CUDA tensors.

A kernel is called as ``kernel(input, target, options)`` with the loss's options tuple from
:mod:`focalkit._kernels.options`, already checked. :mod:`focalkit._dispatch` picks the backend
and asks its :attr:`KernelSet.takes` whether the kernel takes this call's options; a backend
without a kernel for a loss (a field left None), or one that does not take the options,
leaves the call to the plain form. The layers import downward only: ``_tracing`` and
``_tensor`` below everything, then these packages, then ``_checks`` and ``_dispatch``, then
:mod:`focalkit.functional`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from torch import Tensor

from . import options as O

OptionsT = TypeVar("OptionsT", bound=NamedTuple, contravariant=True)


class Kernel(Protocol, Generic[OptionsT]):
    """One loss of one backend: ``(input, target, options) -> loss`` (or statistics)."""

    def __call__(self, input: Tensor, target: Tensor, options: OptionsT, /) -> Any: ...


def takes_all(name: str, input: Tensor, options: NamedTuple) -> bool:
    """The default :attr:`KernelSet.takes`: every kernel takes every call."""
    return True


@dataclass(frozen=True)
class KernelSet:
    """The kernels of one backend, by loss; None where the backend has none."""

    name: str
    focal_modulation: Kernel[O.FocalModulationOptions] | None = None
    sigmoid_focal_loss: Kernel[O.SigmoidFocalOptions] | None = None
    softmax_focal_loss: Kernel[O.SoftmaxFocalOptions] | None = None
    #: ``(features, target, options)``, the layer's weight and bias in the options.
    linear_softmax_focal_loss: Kernel[O.LinearSoftmaxFocalOptions] | None = None
    asymmetric_loss: Kernel[O.AsymmetricOptions] | None = None
    quality_focal_loss: Kernel[O.QualityFocalOptions] | None = None
    varifocal_loss: Kernel[O.VarifocalOptions] | None = None
    distribution_focal_loss: Kernel[O.DistributionFocalOptions] | None = None
    poly1_cross_entropy: Kernel[O.Poly1Options] | None = None
    logit_adjusted_cross_entropy: Kernel[O.LogitAdjustedOptions] | None = None
    ldam_loss: Kernel[O.LDAMOptions] | None = None
    #: Per-image, per-class ``(TP, FP, FN)`` of the region losses.
    region_stats: Kernel[O.RegionStatsOptions] | None = None
    lovasz_softmax_loss: Kernel[O.LovaszSoftmaxOptions] | None = None
    lovasz_hinge_loss: Kernel[O.LovaszHingeOptions] | None = None
    #: The Euclidean distance transform of a bool mask, called with ``target=None``.
    distance_transform: Kernel[O.DistanceTransformOptions] | None = None
    hausdorff_dt_loss: Kernel[O.HausdorffDTOptions] | None = None
    boundary_loss: Kernel[O.BoundaryOptions] | None = None
    soft_cldice_loss: Kernel[O.SoftclDiceOptions] | None = None
    #: ``takes(name, input, options)``: whether the kernel ``name`` takes this call.
    takes: Callable[[str, Tensor, NamedTuple], bool] = takes_all
