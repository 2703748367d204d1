"""``python -m pytest_codeflash merge REPORT...``: see :mod:`.deliver.merge`."""

from __future__ import annotations

import sys

from .deliver.merge import main

if __name__ == "__main__":
    sys.exit(main())
