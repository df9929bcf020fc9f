"""Sphinx configuration of dynan's documentation.

Build:  python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

# TensorFlow's start-up lines stay out of the gallery's output blocks (dynan.backend sets
# the same when a model loads; set here too, before anything imports TensorFlow).
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import dynan  # noqa: E402

project = "dynan"
author = "dynan developers"
copyright = "dynan developers"
release = version = dynan.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "results_layout",
    "api_members",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5"]
templates_path = ["_templates"]
myst_heading_anchors = 3

# API reference: one page per public name, generated from the docstrings.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# Every cross-reference must resolve (with -W, a broken one fails the build). dynan's own
# names are all documented here (docs/_ext/api_members.py resolves a docstring's short
# references in the module that defines it). Other projects' names are not: the docs
# are built where their documentation sites cannot be reached (no intersphinx), so
# references into the third-party packages dynan uses are left unresolved on purpose.
# Only those packages: a reference to anything else, dynan's names above all, must resolve.
nitpicky = True
THIRD_PARTY = ("dask", "dask_jobqueue", "distributed", "filelock", "h5py", "jax", "keras",
               "matplotlib", "networkx", "numpy", "plotly", "scipy", "sklearn", "tensorflow",
               "threadpoolctl", "torch", "tqdm")
nitpick_ignore_regex = [(r"py:.*", rf"({'|'.join(THIRD_PARTY)})(\..+)?")]

# The gallery: every script examples/plot_*.py runs when the docs build, and its page
# shows its output and figures. The other scripts there (training the bundled models,
# users' cells) are not part of it.
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"^(?!plot_)",  # file names: the other scripts stay out
    "within_subsection_order": "gallery_order.ExampleOrder",
    "image_scrapers": ("gallery_order.tight_png",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"dynan {release}"
html_theme_options = {
    "github_url": None,
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []
