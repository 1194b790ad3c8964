"""The command line for people: same Service, readable output, the saved path printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import PROJECT_ROOT, server_env


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=PROJECT_ROOT,
        env=server_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_generate_with_wait_prints_where_the_file_was_saved(tmp_path: Path) -> None:
    done = run(tmp_path, "generate", "sandbox/video", "a red fox", "--duration", "2", "--wait")
    assert done.returncode == 0, done.stderr
    saved = [line.split(":", 1)[1].strip() for line in done.stdout.splitlines() if line.startswith("saved:")]
    assert saved and Path(saved[0]).exists() and saved[0].endswith(".mp4")
    assert "completed" in done.stderr  # the progress display goes to stderr


def test_task_shows_a_task_by_id_and_a_failed_task_exits_non_zero(tmp_path: Path) -> None:
    done = run(tmp_path, "generate", "sandbox/image", "[fail] on purpose", "--json", MEDIAGEN_SANDBOX_DELAY="0")
    assert '"status": "failed"' in done.stdout and done.returncode == 1


def test_a_bad_option_is_reported_on_stderr_with_exit_code_2(tmp_path: Path) -> None:
    done = run(tmp_path, "generate", "sandbox/video", "x", "--aspect-ratio", "7:3")
    assert done.returncode == 2 and "aspect_ratio" in done.stderr and done.stdout == ""


def test_models_lists_the_sandbox_models_and_how_to_enable_the_others(tmp_path: Path) -> None:
    done = run(tmp_path, "models", "--provider", "sandbox")
    assert done.returncode == 0 and "sandbox/video" in done.stdout and "sandbox/image" in done.stdout


def test_doctor_says_which_providers_are_enabled_and_which_variable_enables_the_rest(tmp_path: Path) -> None:
    done = run(tmp_path, "doctor")
    assert "sandbox" in done.stdout and "set VICSEE_API_KEY" in done.stdout and done.returncode == 0


def test_help_describes_the_commands(tmp_path: Path) -> None:
    done = run(tmp_path, "--help")
    for word in ("models", "generate", "task", "doctor", "--transport"):
        assert word in done.stdout
