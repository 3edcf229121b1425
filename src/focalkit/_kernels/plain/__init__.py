"""The plain backend: every loss as a composition of PyTorch operations (autograd's gradient).

This is where each loss's formula is written, once: one module per family, mirroring
:mod:`focalkit.functional`. The kernels of the other backends are tested against these
compositions and reuse their pieces for higher-order gradients.
"""

from .. import KernelSet
from . import (
    asymmetric,
    boundary,
    detection,
    focal,
    linear,
    long_tail,
    lovasz,
    poly,
    region,
)

KERNELS = KernelSet(
    name="plain",
    focal_modulation=focal.focal_modulation,
    sigmoid_focal_loss=focal.sigmoid_focal_loss,
    softmax_focal_loss=focal.softmax_focal_loss,
    linear_softmax_focal_loss=linear.linear_softmax_focal_loss,
    asymmetric_loss=asymmetric.asymmetric_loss,
    quality_focal_loss=detection.quality_focal_loss,
    varifocal_loss=detection.varifocal_loss,
    distribution_focal_loss=detection.distribution_focal_loss,
    poly1_cross_entropy=poly.poly1_cross_entropy,
    logit_adjusted_cross_entropy=long_tail.logit_adjusted_cross_entropy,
    ldam_loss=long_tail.ldam_loss,
    region_stats=region.region_stats,
    lovasz_softmax_loss=lovasz.lovasz_softmax_loss,
    lovasz_hinge_loss=lovasz.lovasz_hinge_loss,
    distance_transform=boundary.distance_transform,
    hausdorff_dt_loss=boundary.hausdorff_dt_loss,
    boundary_loss=boundary.boundary_loss,
    soft_cldice_loss=boundary.soft_cldice_loss,
)

__all__ = ["KERNELS"]
