"""Sphinx configuration of the skbalpm documentation.

Build (from the repository root, with the ``docs`` extra installed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build runs the gallery examples in ``docs/examples`` (on the real preference sample
bundled with the package, so they need no other files) and needs no network connection:
intersphinx links to scikit-learn, NumPy and PyTorch come from the small inventories in
``docs/_intersphinx``. Set ``SKBALPM_DOCS_INTERSPHINX=1`` to fetch the full
online inventories instead (the local ones remain the fallback).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# no download progress bars in the examples' output (set before transformers is imported)
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import skbalpm

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

# The gallery examples run inside this process: keep their embedding cache inside the
# build folder (reused by the next build).
os.environ.setdefault("SKBALPM_CACHE_DIR", str(DOCS / "_build" / "embedding-cache"))
os.environ.setdefault("MPLBACKEND", "Agg")

# -- project ---------------------------------------------------------------------------
project = "skbalpm"
author = "skbalpm developers"
copyright = "skbalpm developers"
version = release = skbalpm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "skbalpm_docs",  # docs/_ext: benchmark tables, the CLI help text
]

templates_path = ["_templates"]
# examples/ is the gallery's source: sphinx-gallery turns it into auto_examples/
exclude_patterns = ["_build", "examples", "**.ipynb_checkpoints"]
default_role = "literal"
# every cross-reference must resolve: a reference to scikit-learn, NumPy or PyTorch needs
# its target in docs/_intersphinx/<project>.inv.txt (see the intersphinx section below)
nitpicky = True

# -- autodoc / autosummary / numpydoc --------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- intersphinx: offline by default ---------------------------------------------------
_ONLINE = os.environ.get("SKBALPM_DOCS_INTERSPHINX", "") == "1"
_INVENTORIES = {
    "sklearn": "https://scikit-learn.org/stable/",
    "numpy": "https://numpy.org/doc/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
}
intersphinx_mapping = {
    name: (url, ((None,) if _ONLINE else ()) + (f"_intersphinx/{name}.inv.txt",))
    for name, url in _INVENTORIES.items()
}
intersphinx_timeout = 10

# -- sphinx-gallery --------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skbalpm",),
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_signature": False,
}

# -- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skbalpm {release}"
html_static_path = ["_static"]
html_css_files = ["skbalpm.css"]
html_show_sourcelink = False
html_theme_options = {
    "logo": {"text": "skbalpm"},
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "getting_started": [], "benchmarks": []}
