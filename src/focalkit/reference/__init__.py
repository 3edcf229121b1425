"""NumPy float64 reference implementations of every loss: the test oracles.

Plain formulas, written to be read. Inputs may be NumPy arrays or tensors; outputs are
float64 NumPy arrays (or NumPy scalars after a reduction). Use them to check a loss, to
learn what it computes, or to see why ``cross_entropy == nll_loss(log_softmax(x))``:

>>> import numpy as np
>>> from focalkit import reference as R
>>> x = np.array([[2.0, 0.5, -1.0]]); t = np.array([0])
>>> bool(np.isclose(R.cross_entropy(x, t), R.nll_loss(R.log_softmax(x), t)))
True
"""

from . import (
    asymmetric,
    boundary,
    core,
    detection,
    focal,
    linear,
    long_tail,
    lovasz,
    poly,
    region,
    region_more,
)
from .asymmetric import *  # noqa: F403
from .boundary import *  # noqa: F403
from .core import *  # noqa: F403
from .detection import *  # noqa: F403
from .focal import *  # noqa: F403
from .linear import *  # noqa: F403
from .long_tail import *  # noqa: F403
from .lovasz import *  # noqa: F403
from .poly import *  # noqa: F403
from .region import *  # noqa: F403
from .region_more import *  # noqa: F403

#: Every public name of the family modules, each listed once in its module's ``__all__``.
__all__: list[str] = []
__all__ += asymmetric.__all__
__all__ += boundary.__all__
__all__ += core.__all__
__all__ += detection.__all__
__all__ += focal.__all__
__all__ += linear.__all__
__all__ += long_tail.__all__
__all__ += lovasz.__all__
__all__ += poly.__all__
__all__ += region.__all__
__all__ += region_more.__all__
