"""The installed package: light import, command line, and README and CI telling the same story."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import dynan

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)


def test_import_does_not_import_tensorflow_or_dask():
    result = run("-c", "import sys, dynan; print(*(name in sys.modules for name in "
                       "('tensorflow', 'keras', 'dask', 'distributed')))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"] * 4


def package_imports():
    """Module -> the dynan modules it imports, at any level (inside functions too)."""
    graph = {}
    for path in sorted((ROOT / "dynan").glob("*.py")):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found |= {node.module} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dynan."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("dynan.")}
        graph[path.stem] = {m.split(".")[0] for m in found} - {path.stem}
    return graph


def test_no_import_cycles_inside_the_package():
    graph = package_imports()
    graph.pop("__init__")  # the public face imports the package; modules import it only for its version
    state = {}

    def visit(module, trail):
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", f"import cycle: {' -> '.join(trail + [module])}"
        state[module] = "open"
        for other in sorted(graph.get(module, ())):
            visit(other, trail + [module])
        state[module] = "done"

    for module in sorted(graph):
        visit(module, [])
    assert "__init__" not in set().union(*graph.values()), "a module imports the package itself"


def test_capabilities_are_declared_not_probed():
    for path in sorted((ROOT / "dynan").glob("*.py")):
        assert "hasattr(" not in path.read_text(), f"{path.name} probes attributes with hasattr"


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
    """The gallery's quick start, run as a script (the docs build runs it too)."""
    env = {**os.environ, "MPLBACKEND": "agg"}  # no window
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "plot_quickstart.py")],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    correct = re.search(r"correct go/no-go decisions: ([0-9]+)%", result.stdout)
    assert correct and int(correct.group(1)) >= 95, result.stdout
    assert re.search(r"<FixedPoints: \d+ \(.*stable", result.stdout), result.stdout