"""`pip install 'cellmon[client]'` without the server: the client imports and runs in a
virtual environment that holds the project (no dependencies) and the client extra's
dependencies alone, and imports nothing of the server."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_MODULES = ("fastapi", "sqlalchemy", "pydantic", "httpx", "uvicorn", "redis", "orjson")

CHECK = """
import importlib.util, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "cellmon.client")
result = shell.run_cell("print('ran'); 1 + 1", store_history=True)
assert result.success and result.result == 2, result
shell.run_line_magic("unload_ext", "cellmon.client")
installed = [m for m in {servers!r} if importlib.util.find_spec(m) is not None]
imported = sorted(
    name for name in sys.modules
    if name.split(".")[0] in {servers!r}
    or (name.startswith("cellmon.") and not name.startswith("cellmon.client"))
)
print("installed:", installed)
print("imported:", imported)
"""


def client_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements: list[str] = project["optional-dependencies"]["client"]
    return requirements


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the project installed without its dependencies, plus the client extra's."""
    venv = tmp_path_factory.mktemp("client-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True, capture_output=True)
    constraints = ["-c", str(ROOT / "constraints.txt")]
    subprocess.run([*pip, *constraints, *client_requirements()], check=True, capture_output=True)
    return python


@pytest.mark.slow
def test_the_client_runs_without_the_servers_dependencies(
    bare_python: Path, tmp_path: Path
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CELLMON_SERVER_URL": "http://127.0.0.1:9",
        "CELLMON_CLIENT_QUEUE": str(tmp_path / "queue.sqlite3"),
    }
    run = subprocess.run(
        [str(bare_python), "-c", CHECK.format(servers=SERVER_MODULES)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "ran" in run.stdout
    assert "installed: []" in run.stdout
    assert "imported: []" in run.stdout
