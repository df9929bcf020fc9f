"""The ``dynan`` command line."""

import argparse

from . import __version__


def build_parser():
    """The argument parser of the ``dynan`` command."""
    parser = argparse.ArgumentParser(
        prog="dynan",
        description="Dynamical-systems analysis of trained recurrent networks: record "
                    "trajectories, PCA by trial type, fixed and slow points, linearizations.",
    )
    parser.add_argument("--version", action="version", version=f"dynan {__version__}")
    return parser


def main(argv=None):
    """Run the ``dynan`` command; returns its exit code."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
