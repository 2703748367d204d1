"""Every setting's names and kind: one table for the option, the ini key and pyproject.

Read at every pytest start-up (to register the options), so it imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BACKENDS", "CODEFLASH_ONLY_KEYS", "EFFORTS"]

BACKENDS = ("rules", "openai", "codeflash-service", "none")
EFFORTS = ("low", "medium", "high")


@dataclass(frozen=True)
class _Knob:
    """One setting that may come from the command line, the ini file and/or pyproject."""

    field: str  # the Settings field; the option, ini and pyproject names follow from it
    kind: str  # "str", "int", "float", "list", "bool", "backends", "url", "envname", "shard"
    help: str = ""  # "": a [tool.codeflash] key only, with no option and no ini key
    metavar: str = ""

    @property
    def flag(self) -> str | None:
        """``--codeflash-max-functions`` for ``max_functions``."""
        return "--codeflash-" + self.field.replace("_", "-") if self.help else None

    @property
    def ini(self) -> str | None:
        """``codeflash_max_functions`` for ``max_functions``."""
        return "codeflash_" + self.field if self.help else None

    @property
    def toml(self) -> str:
        """``max-functions`` for ``max_functions``."""
        return self.field.replace("_", "-")

    @property
    def dest(self) -> str:
        """The argparse destination of the command-line flag."""
        return (self.flag or "").lstrip("-").replace("-", "_")


_KNOBS = (
    _Knob(
        "backend",
        "backends",
        "Candidate source: rules, openai, codeflash-service or none, or several joined with "
        "commas, e.g. rules,openai (default: rules)",
        "NAME",
    ),
    _Knob("report", "str", "Write the JSON report to this path", "PATH"),
    _Knob(
        "report_md",
        "str",
        "Write the run as Markdown to this path (also appended to $GITHUB_STEP_SUMMARY when "
        "that is set)",
        "PATH",
    ),
    _Knob("max_functions", "int", "Optimize at most N functions", "N"),
    _Knob("effort", "str", "How hard to try: low, medium or high (default: medium)", "LEVEL"),
    _Knob(
        "min_speedup",
        "float",
        "Required speedup beyond 1.0 at the confidence bound (default: 0.05)",
        "F",
    ),
    _Knob(
        "timeout",
        "float",
        "Wall-clock limit in seconds for the tests of each runner run, baseline included "
        "(default: scaled from the original)",
        "S",
    ),
    _Knob(
        "float_rel_tol",
        "float",
        "Relative tolerance for comparing floats (default: 0, exact)",
        "R",
    ),
    _Knob(
        "exclude",
        "list",
        "Never optimize functions whose qualified name matches this glob (e.g. "
        "'pkg.legacy.*'); repeatable; replaces the ini/pyproject list",
        "GLOB",
    ),
    _Knob(
        "llm_url",
        "url",
        "Base URL of the OpenAI-compatible API for the openai backend (default: "
        "https://api.openai.com/v1)",
        "URL",
    ),
    _Knob("llm_model", "str", "Model the openai backend asks (default: gpt-4o-mini)", "NAME"),
    _Knob(
        "llm_api_key_env",
        "envname",
        "Environment variable holding the openai backend's API key (default: "
        "CODEFLASH_LLM_API_KEY, then OPENAI_API_KEY)",
        "VAR",
    ),
    _Knob(
        "llm_temperature",
        "float",
        "Sampling temperature from 0 to 2 (default: the model's own)",
        "T",
    ),
    _Knob("llm_candidates", "int", "Candidates asked for in one request (default: 1)", "N"),
    _Knob("llm_max_tokens", "int", "Longest reply, in tokens (default: 4096)", "N"),
    _Knob(
        "llm_concurrency",
        "int",
        "Requests to a language model in flight at once (default: 4)",
        "N",
    ),
    _Knob(
        "llm_timeout",
        "float",
        "Seconds to wait for one reply of a language model (default: 120)",
        "S",
    ),
    _Knob(
        "llm_no_cache",
        "bool",
        "Ask the language model again instead of reusing the replies cached in .codeflash/",
    ),
    _Knob(
        "service_url",
        "url",
        "Base URL of the Codeflash AI service (default: https://app.codeflash.ai)",
        "URL",
    ),
    _Knob(
        "no_cache",
        "bool",
        "Evaluate every function again instead of reusing the verdicts of earlier runs",
    ),
    _Knob(
        "workers",
        "int",
        "Functions evaluated in parallel (default: the number of CPUs, as many as the "
        "runner's memory limit allows)",
        "N",
    ),
    _Knob(
        "shard",
        "shard",
        "Evaluate only share K of N of the chosen functions (e.g. 2/4), for CI matrix jobs",
        "K/N",
    ),
    _Knob(
        "github_api_url",
        "url",
        "Base URL of the GitHub REST API for --codeflash-pr (default: https://api.github.com)",
        "URL",
    ),
    _Knob(
        "github_repo",
        "str",
        "The GitHub repository pull requests go to (default: $GITHUB_REPOSITORY, else read "
        "from the git remote's URL)",
        "OWNER/NAME",
    ),
    _Knob("module_root", "str"),
    _Knob("tests_root", "str"),
    _Knob("ignore_paths", "list"),
    _Knob("formatter_cmds", "list"),
    _Knob("git_remote", "str"),
    _Knob("memory_limit_mb", "int"),
    _Knob("max_captured_calls", "int"),
    _Knob("api_key_env", "list"),
)
# Keys that ``codeflash init`` writes or Codeflash documents but that mean nothing to this
# plugin: accepted, so a project set up for Codeflash runs as it is, and named under -v.
CODEFLASH_ONLY_KEYS = {
    "test-framework": "the tests always run with the pytest you started",
    "pytest-cmd": "pytest-codeflash runs inside the pytest you started: put pytest options "
    "on its command line or in addopts",
    "benchmarks-root": "there is no separate benchmark run: your tests are the profile",
    "benchmark": "there is no separate benchmark run: your tests are the profile",
    "disable-telemetry": "pytest-codeflash collects no telemetry",
    "disable-imports-sorting": "imports are never sorted: use formatter-cmds for that",
    "override-fixtures": "no tests are generated, so your fixtures are never changed",
    "language": "pytest-codeflash optimizes Python only",
}
_TOML_KEYS = {k.toml: k for k in _KNOBS if k.toml}
