"""The exceptions pytest-codeflash raises.

Every failure is raised, never returned as an empty result, so a caller can always tell
"nothing to do" from "something went wrong"::

    CodeflashError
     +-- ConfigError            a setting, option or [tool.codeflash] key is wrong
     |    +-- TargetError       a --codeflash-target names no function we can optimize
     |    +-- CandidateError    a candidate cannot be used (missing, not Python, bad syntax, ...)
     |         +-- InterfaceChange   it changes the target's name, parameters or decorators
     +-- ContextError           the code context of a function cannot be extracted
     +-- ServiceError           a candidate service failed
     |    +-- ServiceTimeout
     |    +-- ServiceUnavailable
     |    +-- BadServiceResponse
     +-- VerificationError      the isolated runner could not produce a verdict
     +-- ApplyError             a winner cannot be written back safely
     +-- GitError               git failed or refused the repository (named as such)
     +-- PullRequestError       a pull request cannot be opened (git or the GitHub API said no)

User mistakes found while pytest starts are turned into ``pytest.UsageError`` by the plugin,
with the same message.  The runner's own exceptions (``Unverifiable``, ``Uncopyable``,
``SlowCall``, ...) live in ``runner/`` and never leave the runner process: what happened
there comes back as data in its result.
"""

from __future__ import annotations


class CodeflashError(Exception):
    """Base class of every error raised by pytest-codeflash."""


class ConfigError(CodeflashError):
    """An option, ini value or ``[tool.codeflash]`` key is invalid; the message names the fix."""


class TargetError(ConfigError):
    """A ``--codeflash-target`` does not name an optimizable function."""


class CandidateError(ConfigError):
    """A candidate source cannot be used as a replacement for its target."""


class InterfaceChange(CandidateError):
    """A candidate changes the target's interface: it is rejected as a verdict, not an error."""


class ContextError(CodeflashError):
    """The code context of a function cannot be extracted."""


class ServiceError(CodeflashError):
    """A candidate service (LLM endpoint or AI service) failed."""


class ServiceTimeout(ServiceError):
    """The service did not answer in time."""


class ServiceUnavailable(ServiceError):
    """The service could not be reached."""


class BadServiceResponse(ServiceError):
    """The service answered with something we cannot use."""


class VerificationError(CodeflashError):
    """The isolated runner failed to produce a verdict for reasons other than the candidate."""


class ApplyError(CodeflashError):
    """An accepted optimization cannot be written back to the user's file safely."""


class GitError(CodeflashError):
    """git failed, or refused the repository (for example "dubious ownership").

    Never reported as a property of the files (such as "uncommitted changes"): the message
    names what git said and how to fix it.
    """


class PullRequestError(CodeflashError):
    """``--codeflash-pr`` cannot open a pull request: the message says what refused and why.

    Never carries the token: messages are built from git's and the API's answers only.
    """
