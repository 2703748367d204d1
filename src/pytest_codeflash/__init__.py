"""pytest-codeflash: make slow functions faster, and prove it."""

from __future__ import annotations

__version__ = "0.1.0.dev0"
