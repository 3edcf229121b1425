"""``python -m focalkit``: the same as the ``focalkit`` command."""

import sys

from .cli import main

sys.exit(main())
