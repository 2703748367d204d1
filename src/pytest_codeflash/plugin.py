"""The pytest entry point (``pytest11: codeflash``): hook implementations that only delegate.

Nothing heavy is imported here: with ``--codeflash`` off, a test run pays for this module and
``options`` only.  ``CodeflashSession`` (and pydantic, libcst, ...) load only when it is on.
"""

from __future__ import annotations

import pytest

from . import hookspec, options

session_key = pytest.StashKey["object"]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if not options.is_enabled(config):
        return
    from .session import CodeflashSession

    session = CodeflashSession(config, options.resolve_settings(config))
    session.setup()
    config.stash[session_key] = session
    config.pluginmanager.register(session, "codeflash-session")
    from .discover.run_hooks import TracingHooks

    config.pluginmanager.register(TracingHooks(session), "codeflash-tracing")
