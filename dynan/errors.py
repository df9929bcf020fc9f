"""The errors dynan raises for models it cannot analyse."""


class ModelError(ValueError):
    """A model file or set of weights that dynan cannot analyse."""

