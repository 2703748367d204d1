"""The LLM options: several back-ends at once, CLI > ini > pyproject, and every bad value."""

from __future__ import annotations

import pytest

SHOW = """
import pytest
from pytest_codeflash.plugin import session_key

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    session = config.stash.get(session_key, None)
    if session is not None:
        s = session.settings
        print(f"SETTINGS backend={s.backend} backends={','.join(s.backends)} "
              f"explicit={s.backend_explicit}")
        print(f"LLM url={s.llm_url} model={s.llm_model} keys={','.join(s.llm_api_key_env)} "
              f"temperature={s.llm_temperature} candidates={s.llm_candidates} "
              f"max_tokens={s.llm_max_tokens} concurrency={s.llm_concurrency} "
              f"timeout={s.llm_timeout} no_cache={s.llm_no_cache} service={s.service_url}")
"""
TARGET = "--codeflash-target=listy.core.unique"
KEY_VARIABLES = ("CODEFLASH_LLM_API_KEY", "OPENAI_API_KEY", "CODEFLASH_API_KEY")


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _usage_error(result: pytest.RunResult, *fragments: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stderr.str() + result.stdout.str()
    assert "Traceback" not in text
    assert "not available in this version" not in text
    for fragment in fragments:
        assert fragment in text, text


def test_defaults_and_the_single_value_form(listy: pytest.Pytester) -> None:
    listy.makeconftest(SHOW)
    result = listy.runpytest("-s", TARGET, "--codeflash-dry-run")
    result.stdout.fnmatch_lines(
        [
            "SETTINGS backend=rules backends=rules explicit=False",
            "LLM url=https://api.openai.com/v1 model=gpt-4o-mini "
            "keys=CODEFLASH_LLM_API_KEY,OPENAI_API_KEY temperature=None candidates=1 "
            "max_tokens=4096 concurrency=4 timeout=120.0 no_cache=False "
            "service=https://app.codeflash.ai",
        ]
    )
    result = listy.runpytest("-s", TARGET, "--codeflash-dry-run", "--codeflash-backend=openai")
    result.stdout.fnmatch_lines(["SETTINGS backend=openai backends=openai explicit=True"])


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("cli", "backend=rules backends=rules,openai"),
        ("ini", "backend=codeflash-service backends=codeflash-service,rules"),
        ("toml", "backend=openai backends=openai,codeflash-service"),
    ],
)
def test_several_backends(listy: pytest.Pytester, where: str, expected: str) -> None:
    listy.makeconftest(SHOW)
    ini = 'codeflash_backend = "codeflash-service, rules"\n' if where == "ini" else ""
    listy.makepyprojecttoml(
        f'[tool.pytest.ini_options]\npythonpath = ["src"]\n{ini}'
        '[tool.codeflash]\nbackend = ["openai", "codeflash-service"]\n'
    )
    args = ["--codeflash-backend=rules,openai"] if where == "cli" else []
    result = listy.runpytest("-s", TARGET, "--codeflash-dry-run", *args)
    result.stdout.fnmatch_lines([f"SETTINGS {expected} explicit=True"])


def test_llm_options_cli_over_ini_over_pyproject(listy: pytest.Pytester) -> None:
    listy.makeconftest(SHOW)
    listy.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\n'
        'codeflash_llm_model = "from-ini"\ncodeflash_llm_no_cache = "true"\n'
        'codeflash_llm_concurrency = "8"\n'
        "[tool.codeflash]\n"
        'llm-url = "http://localhost:11434/v1/"\nllm-model = "from-toml"\n'
        'llm-api-key-env = "MY_LLM_KEY"\nllm-temperature = 0\nllm-candidates = 2\n'
        "llm-max-tokens = 2000\nllm-concurrency = 3\nllm-timeout = 30\n"
        'llm-no-cache = false\nservice-url = "http://127.0.0.1:8000"\n'
    )
    result = listy.runpytest(
        "-s", TARGET, "--codeflash-dry-run", "--codeflash-llm-timeout=9.5",
        "--codeflash-llm-model=from-cli",
    )  # fmt: skip
    result.stdout.fnmatch_lines(
        [
            "LLM url=http://localhost:11434/v1 model=from-cli keys=MY_LLM_KEY temperature=0.0 "
            "candidates=2 max_tokens=2000 concurrency=8 timeout=9.5 no_cache=True "
            "service=http://127.0.0.1:8000"
        ]
    )
    result = listy.runpytest("-s", TARGET, "--codeflash-dry-run", "--codeflash-llm-no-cache")
    result.stdout.fnmatch_lines(["LLM * no_cache=True *"])


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--codeflash-backend=rules,magic"], ["'rules,magic': 'magic' is not a known backend"]),
        (["--codeflash-backend=openai,openai"], ["'openai,openai' names a backend twice"]),
        (["--codeflash-backend=none,rules"], ["combines 'none' with other backends"]),
        (["--codeflash-backend=,"], ["names no backend"]),
        (["--codeflash-llm-temperature=3"], ["--codeflash-llm-temperature='3' must be at most 2"]),
        (["--codeflash-llm-temperature=warm"], ["'warm' is not a number"]),
        (["--codeflash-llm-candidates=0"], ["--codeflash-llm-candidates='0' must be at least 1"]),
        (["--codeflash-llm-concurrency=100"], ["must be at most 64"]),
        (["--codeflash-llm-max-tokens=lots"], ["'lots' is not a whole number"]),
        (["--codeflash-llm-timeout=0"], ["--codeflash-llm-timeout='0' must be greater than zero"]),
        (["--codeflash-llm-url=ftp://example.com"], ["is not an http(s) URL", "Ollama"]),
        (["--codeflash-service-url=localhost:8000"], ["is not an http(s) URL"]),
        (["--codeflash-llm-api-key-env=sk-abc"], ["is not an environment variable name"]),
    ],
)
def test_bad_values(listy: pytest.Pytester, args: list[str], fragments: list[str]) -> None:
    _usage_error(listy.runpytest(TARGET, "--codeflash-dry-run", *args), *fragments)


def test_bad_ini_and_pyproject_values(listy: pytest.Pytester) -> None:
    listy.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\ncodeflash_llm_no_cache = "maybe"\n'
    )
    result = listy.runpytest(TARGET, "--codeflash-dry-run")
    _usage_error(result, "ini option codeflash_llm_no_cache='maybe' is not true or false")
    listy.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\n[tool.codeflash]\nbackend = 3\n'
    )
    result = listy.runpytest(TARGET, "--codeflash-dry-run")
    _usage_error(result, "[tool.codeflash] backend = 3 is not a backend name or a list of them")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["--codeflash-backend=openai"],
            ["asks https://api.openai.com/v1, which needs an API key", "OPENAI_API_KEY",
             "--codeflash-llm-url"],
        ),
        (
            ["--codeflash-backend=rules,openai", "--codeflash-llm-url=http://127.0.0.1:9/v1",
             "--codeflash-llm-api-key-env=MY_LLM_KEY"],
            ["--codeflash-llm-api-key-env=MY_LLM_KEY: the environment variable MY_LLM_KEY is "
             "not set"],
        ),
        (
            ["--codeflash-backend=codeflash-service"],
            ["needs your Codeflash API key in the environment variable CODEFLASH_API_KEY"],
        ),
    ],
)  # fmt: skip
def test_a_missing_key_stops_before_the_tests(
    listy: pytest.Pytester, args: list[str], fragments: list[str]
) -> None:
    _usage_error(listy.runpytest(TARGET, *args), *fragments)
