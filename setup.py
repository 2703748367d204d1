"""The one compiled part: the fast phase's counter before Python 3.12 (see its source).

Everything else is in pyproject.toml.  The extension is optional: where it cannot be built
(no compiler, another interpreter) the install goes on and tracing uses cProfile's profiler.
"""

import platform
import sys

from setuptools import Extension, setup

extensions = []
if platform.python_implementation() == "CPython" and (3, 10) <= sys.version_info < (3, 12):
    extensions.append(
        Extension(
            "pytest_codeflash.discover._evalcount",
            ["src/pytest_codeflash/discover/_evalcount.c"],
            optional=True,
        )
    )

setup(ext_modules=extensions)
