"""Example package for pytest-codeflash: correct code, written the slow way."""
