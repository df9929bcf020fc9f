"""The installed version of dynan."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dynan")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
