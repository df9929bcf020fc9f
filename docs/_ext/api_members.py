"""Document each public object once: a name that ``dynan`` exports is documented as
``dynan.NAME`` and left out of its module's page.

References follow the same rule. A docstring is written in the terms of the module that
defines it, so on the page of an exported name (``dynan.FixedPoints``) a short reference
such as ``:func:`visited_region``` means ``dynan.fixed_points.visited_region``; and a
reference to an exported name by its defining module (``dynan.stages.STAGES``) goes to its
page, ``dynan.STAGES``. Anything else that does not resolve stays a warning (``nitpicky``).

Module-level data are documented by their ``#:`` comments. An exported one
(``dynan.STAGES``) is assigned in its own module, not in ``dynan``, where autodoc looks:
it gets the comment of its assignment here, and with ``:meta hide-value:`` in that
comment its page leaves the value out (``autosummary/data.rst``).
"""

import re

from sphinx.pycode import ModuleAnalyzer

import dynan

#: Exported name -> the module that defines it (``dynan._PUBLIC`` less the modules).
HOMES = {name: module for name, module in dynan._PUBLIC.items() if module is not None}


def _comment(name):
    """The ``#:`` comment of the assignment of exported ``name`` in its module, or None."""
    analyzer = ModuleAnalyzer.for_module(f"dynan.{HOMES[name]}")
    return analyzer.find_attr_docs().get(("", name))


def skip_exported(app, what, name, obj, skip, options):
    """``autodoc-skip-member`` handler: skip module members that ``dynan`` exports.

    ``what`` is not checked: autosummary, which lists the members of the module pages,
    passes the member's own type (``"class"``), not the module's.
    """
    if name in HOMES and getattr(dynan, name) is obj:
        return True
    return None


def exported_data_doc(app, what, name, obj, options, lines):
    """``autodoc-process-docstring`` handler: exported data (``dynan.STAGES``) get the
    ``#:`` comment of their assignment, not the docstring of their type (``tuple``)."""
    short = name.removeprefix("dynan.")
    if what == "data" and short in HOMES and (comment := _comment(short)):
        lines[:] = list(comment)


def _home(node):
    """The module that a reference is written in: on the page of an exported name, the
    module that defines it; elsewhere the current module."""
    module = node.get("py:module")
    if module != "dynan":
        return module
    owner = node.get("py:class") or node["refdoc"].rpartition("/")[2].removeprefix("dynan.")
    home = HOMES.get(owner.partition(".")[0])
    return home and f"dynan.{home}"


def resolve_exported(app, env, node, contnode):
    """``missing-reference`` handler: a short reference resolved in the module that
    defines the docstring, and ``dynan.MODULE.NAME`` of an exported name (or a member of
    it, ``dynan.MODULE.NAME.member``) as ``dynan.NAME`` (``dynan.NAME.member``)."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    home = _home(node)
    targets = [target] + ([f"{home}.{target}"] if home else [])
    names = []
    for full in targets:
        parts = full.split(".")  # dynan, module, name[, member ...]
        if parts[0] == "dynan" and len(parts) > 2 and HOMES.get(parts[2]) == parts[1]:
            names.append(".".join(["dynan", *parts[2:]]))
        elif full != target:
            names.append(full)
    domain = env.get_domain("py")
    for name in names:
        ref = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name,
                                  node, contnode)
        if ref is not None:
            return ref
    return None


def autosummary_names(app, config):
    """What the autosummary templates need to know: the names each module's page leaves
    out (``exported``) and the exported data whose value is hidden (``hide_value``)."""
    exported = {}
    for name, module in HOMES.items():
        exported.setdefault(f"dynan.{module}", []).append(name)
    hide_value = [f"dynan.{name}" for name in HOMES
                  if any(re.match(r":meta +hide-value:", line) for line in _comment(name) or [])]
    config.autosummary_context = {**config.autosummary_context, "exported": exported,
                                  "hide_value": hide_value}


def setup(app):
    app.connect("config-inited", autosummary_names)
    app.connect("autodoc-skip-member", skip_exported)
    # before numpydoc's handler (priority 500), so that numpydoc renders the comment
    app.connect("autodoc-process-docstring", exported_data_doc, priority=400)
    app.connect("missing-reference", resolve_exported)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "2"}
