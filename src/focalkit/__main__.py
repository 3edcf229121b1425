"""``python -m focalkit``: the same as the ``focalkit`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
