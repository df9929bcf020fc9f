"""Document each public object once: a name that ``dynan`` exports is documented as
``dynan.NAME`` and left out of its module's page."""

import dynan


def skip_exported(app, what, name, obj, skip, options):
    """``autodoc-skip-member`` handler: skip module members that ``dynan`` exports."""
    if what == "module" and name in dynan.__all__ and getattr(dynan, name) is obj:
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", skip_exported)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
