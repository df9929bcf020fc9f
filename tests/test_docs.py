"""The documentation builds, with warnings as errors: every gallery example runs and shows
its figures, every cross-reference resolves, every docstring renders, and the results-file
table matches a file written by analyze (docs/_ext/results_layout.py)."""

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Folders the build generates inside docs/ (in .gitignore); never copied in.
GENERATED = ("_build", "auto_examples", "generated", "sg_execution_times.rst", "__pycache__")


def gallery_scripts():
    return sorted(p.name for p in (ROOT / "examples").glob("plot_*.py"))


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    """The README's build command, on a copy of docs/ and examples/ (sphinx-gallery writes
    its pages into the source folder), so the checkout is left as it was."""
    import sphinx  # noqa: F401  (an ImportError fails the test: the test extra installs it)

    for folder in ("docs", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns(*GENERATED))
    before = sorted(p.name for p in (ROOT / "docs").iterdir())
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                             "docs", "docs/_build/html"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    assert "WARNING" not in result.stderr and "ERROR" not in result.stderr, result.stderr[-6000:]
    print(f"docs built in {seconds:.0f} s")
    assert sorted(p.name for p in (ROOT / "docs").iterdir()) == before

    html = tmp_path / "docs" / "_build" / "html"
    scripts = gallery_scripts()
    assert len(scripts) >= 8
    for script in scripts:  # each page shows the figures its script drew
        page = (html / "auto_examples" / script.replace(".py", ".html")).read_text()
        images = re.findall(r'src="(\.\./_images/sphx_glr_[^"]+\.png)"', page)
        assert images, f"{script}: no figure on its page"
        assert all((html / "auto_examples" / src).stat().st_size > 5000 for src in images)
        # no TensorFlow start-up lines or tracebacks in the output blocks
        assert not re.search(r"oneDNN|cuda|Traceback|absl::", page), script
    index = (html / "index.html").read_text()
    for target in ("auto_examples/index.html", "api.html", "concepts.html", "results-file.html",
                   "failures.html", "auto_examples/plot_quickstart.html"):
        assert f'href="{target}' in index, target
    api = (html / "api.html").read_text()
    import dynan

    for name in dynan.__all__:  # the whole public face, one page each
        if name != "__version__":
            assert f"generated/dynan.{name}.html" in api, name
    layout = (html / "results-file.html").read_text()
    assert "Checked against the results file" in layout and "/fixed_points/xstar" in layout
