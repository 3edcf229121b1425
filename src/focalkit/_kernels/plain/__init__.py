"""The plain backend: every loss as a composition of PyTorch operations (autograd's gradient).

This is where each loss's formula is written, once, beside the options tuple it takes: one
module per family, mirroring :mod:`focalkit.functional`. Each formula is marked with
:func:`~focalkit._kernels.plain_form`; the kernels of the other backends register under it,
are tested against it and reuse its pieces for higher-order gradients. Each module is
imported by the functional module of its family.
"""
