"""The installed package: light import, command line, and README and CI telling the same story."""

import re
import subprocess
import sys
from pathlib import Path

import dynan

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)


def test_import_does_not_import_tensorflow():
    result = run("-c", "import sys, dynan; print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_from_weights_works_without_tensorflow():
    code = ("import sys, numpy as np, dynan; an = dynan.from_weights(np.ones((1, 3)), np.eye(3), "
            "np.zeros(3), gamma=0.5); an.run(np.ones((2, 4, 1))); "
            "an.dynamics.jacobian(np.zeros(3), [1.0]); print('tensorflow' in sys.modules)")
    result = run("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_cli_version_and_help():
    version = run("-m", "dynan", "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"dynan {dynan.__version__}"
    assert dynan.__version__ == "0.1.0"
    help_ = run("-m", "dynan", "--help")
    assert help_.returncode == 0 and "usage: dynan" in help_.stdout
    assert "Dynamical-systems analysis" in help_.stdout


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(python -m pip install .*)\n```", readme)
    assert len(commands) == 2, "the README's set-up is two commands"
    ci_lines = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci_lines[-1] == commands[1]
    assert "set -euo pipefail" in ci_lines


def test_quickstart_example_runs():
    result = run(str(ROOT / "examples" / "quickstart.py"))
    assert result.returncode == 0, result.stderr[-3000:]
    correct = dict(re.findall(r"(LS|SL|SS): ([0-9.]+)% correct", result.stdout))
    assert set(correct) == {"LS", "SL", "SS"}
    assert all(float(v) >= 95 for v in correct.values())
