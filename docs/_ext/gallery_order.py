"""The gallery's reading order and its figure scraper (named in conf.py's
``sphinx_gallery_conf``)."""

from sphinx_gallery.scrapers import matplotlib_scraper

#: Examples in the order a newcomer reads them.
ORDER = ("plot_quickstart.py", "plot_flipflop.py", "plot_integrator.py", "plot_tdnms.py",
         "plot_own_cell.py", "plot_from_weights.py", "plot_batch_compare.py",
         "plot_read_results_h5py.py")


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``: :data:`ORDER` first."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        return (ORDER.index(filename) if filename in ORDER else len(ORDER), filename)

    def __repr__(self):
        return "<ExampleOrder>"


def tight_png(block, block_vars, gallery_conf, **kwargs):
    """sphinx-gallery's matplotlib scraper, saving each figure cropped to what it draws
    (dynan's panels put legends beside the axes)."""
    return matplotlib_scraper(block, block_vars, gallery_conf, bbox_inches="tight", dpi=200,
                              **kwargs)
