"""Pure loss functions, in the manner of :mod:`torch.nn.functional`.

This is the single source of truth: every module in :mod:`focalkit.nn` calls one of these.
"""

from . import (
    asymmetric,
    boundary,
    detection,
    focal,
    generalized_dice,
    linear,
    long_tail,
    lovasz,
    poly,
    region,
    unified,
)
from .asymmetric import *  # noqa: F403
from .boundary import *  # noqa: F403
from .detection import *  # noqa: F403
from .focal import *  # noqa: F403
from .generalized_dice import *  # noqa: F403
from .linear import *  # noqa: F403
from .long_tail import *  # noqa: F403
from .lovasz import *  # noqa: F403
from .poly import *  # noqa: F403
from .region import *  # noqa: F403
from .unified import *  # noqa: F403

#: Every public name of the family modules, each listed once in its module's ``__all__``.
__all__: list[str] = []
__all__ += asymmetric.__all__
__all__ += boundary.__all__
__all__ += detection.__all__
__all__ += focal.__all__
__all__ += generalized_dice.__all__
__all__ += linear.__all__
__all__ += long_tail.__all__
__all__ += lovasz.__all__
__all__ += poly.__all__
__all__ += region.__all__
__all__ += unified.__all__
