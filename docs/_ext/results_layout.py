"""The ``results-layout`` directive: the results-file table, checked against a real file.

When the docs build, the bundled tDNMS network is analysed (every stage, no figures) into
a temporary folder, and the directive's table is drawn from that file: each row's type
is read from the file, each shape the row gives is checked against the datasets it
names, and every dataset and attribute of the file must be named by exactly one row.
A row that names nothing in the file, a shape that does not fit, or anything in the file
that no row names is a build warning, so the page cannot drift from the code (the docs
are built with warnings as errors).

The directive's body has one row per line, continued on indented lines::

    PATHS | SHAPE | CONTENT

PATHS is a comma-separated list: the first entry a full path, ``/group/dataset`` or
``/group@attribute`` (``/@attribute`` for the root), the next ones names beside it
(datasets of the same group, or attributes of the same object). A segment ``<name>``
stands for any name. SHAPE is one shape for every entry, or one per entry, e.g.
``(k, N), (N,)``; the symbols ``trials``, ``time``, ``N``, ``n_in`` and ``n_out`` must
equal the recording's sizes, numbers must match, other symbols match any size.
"""

import json
import re
import tempfile

import h5py
import numpy as np
from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: The model and sizes of the file the table is checked against.
MODEL, N_TRIALS, N_INITS = "tdnms_leaky", 12, 64
_FILE = {}


def results_file():
    """Path of a results file of the bundled tDNMS network, written once per build."""
    if "path" not in _FILE:
        import dynan

        _FILE["folder"] = tempfile.TemporaryDirectory(prefix="dynan-docs-")
        an = dynan.load(dynan.example_model(MODEL))
        res = an.analyze(out=f"{_FILE['folder'].name}/results", n_trials=N_TRIALS,
                         n_inits=N_INITS, formats=(), progress=False)
        _FILE["path"] = res.file.filename
        res.close()
    return _FILE["path"]


def _inventory(f):
    """Every dataset and attribute of an open file: path -> (type, shape or None)."""
    from dynan.h5 import JSON_ATTRS

    items = {}

    def add_attrs(prefix, obj):
        for name, value in obj.attrs.items():
            items[f"{prefix}@{name}"] = (_attr_type(name, value, JSON_ATTRS), None)

    add_attrs("/", f)

    def visit(name, obj):
        path = "/" + name
        add_attrs(path, obj)
        if isinstance(obj, h5py.Dataset):
            text = h5py.check_string_dtype(obj.dtype) is not None
            items[path] = ("string" if text else obj.dtype.name, obj.shape)

    f.visititems(visit)
    return items


def _attr_type(name, value, json_attrs):
    if name in json_attrs:
        json.loads(value)  # it is JSON
        return "JSON"
    if isinstance(value, (str, bytes)):
        return "string"
    value = np.asarray(value)
    kind = {"i": "int", "u": "int", "f": "float", "b": "bool", "O": "string", "U": "string",
            "S": "string"}[value.dtype.kind]
    return kind if value.ndim == 0 else f"{kind} array"


def _rows(lines):
    """The directive's rows: (PATHS, SHAPE, CONTENT, line offset), indented lines joined
    to the row above."""
    logical = []
    for offset, line in enumerate(lines):
        if line.strip() and line[0].isspace() and logical:
            logical[-1][0] += " " + line.strip()
        elif line.strip():
            logical.append([line.strip(), offset])
    rows = []
    for line, offset in logical:
        parts = [part.strip() for part in line.split("|", 2)]  # CONTENT may hold "|"
        if len(parts) != 3:
            raise ValueError(f"row {line!r} is not 'PATHS | SHAPE | CONTENT'")
        rows.append((*parts, offset))
    return rows


def _paths(spec):
    """Full path patterns of a PATHS cell: later entries are names beside the first."""
    entries = [entry.strip() for entry in spec.split(",")]
    first = entries[0]
    if not first.startswith("/"):
        raise ValueError(f"{spec!r}: the first entry must be a full path")
    if "@" in first:
        base = first[:first.index("@") + 1]
    else:
        base = first[:first.rindex("/") + 1]
    return [first] + [base + entry for entry in entries[1:]]


def _pattern(path):
    return re.compile("^" + re.sub(r"<[^>]+>", "[^/@]+", re.escape(path)) + "$")


def _shapes(spec, n_entries):
    shapes = [tuple(s.strip() for s in group.split(",") if s.strip())
              for group in re.findall(r"\(([^()]*)\)", spec)]
    if len(shapes) in (0, 1):
        return (shapes or [()]) * n_entries
    if len(shapes) != n_entries:
        raise ValueError(f"{spec!r}: give one shape, or one per path")
    return shapes


def _shape_errors(expected, actual, sizes):
    if not expected:
        return []
    if len(expected) != len(actual):
        return [f"has {len(actual)} dimensions, not {len(expected)}"]
    errors = []
    for symbol, size in zip(expected, actual):
        want = int(symbol) if symbol.isdigit() else sizes.get(symbol)
        if want is not None and want != size:
            errors.append(f"dimension {symbol} is {size}, not {want}")
    return errors


def _inline(text):
    """Text with ``code`` spans (single backticks) as literal nodes."""
    paragraph = nodes.paragraph()
    for k, piece in enumerate(text.split("`")):
        if piece:
            paragraph += nodes.literal(piece, piece) if k % 2 else nodes.Text(piece)
    return paragraph


class ResultsLayout(Directive):
    """The results-file table, checked against a file written by ``analyze``."""

    has_content = True

    def run(self):
        import dynan

        source, line = self.state_machine.get_source_and_line(self.lineno)
        with h5py.File(results_file(), "r") as f:
            items = _inventory(f)
            hidden, inputs = f["trials/hidden"], f["trials/inputs"]
            sizes = {"trials": hidden.shape[0], "time": hidden.shape[1], "N": hidden.shape[2],
                     "n_in": inputs.shape[2], "n_out": f["trials/outputs"].shape[2]}
            schema = int(f.attrs["dynan_schema"])
        named = {path: [] for path in items}
        table_rows = []
        for spec, shape_spec, content, offset in _rows(self.content):
            where = (source, self.content_offset + offset + 1)
            paths = _paths(spec)
            types = []
            for path, shape in zip(paths, _shapes(shape_spec, len(paths))):
                matches = [item for item in items if _pattern(path).match(item)]
                if not matches:
                    logger.warning(f"results layout: {path} is not in a results file "
                                   f"written by analyze", location=where)
                for item in matches:
                    named[item].append(path)
                    kind, actual = items[item]
                    types.append(kind)
                    for error in _shape_errors(shape if actual is not None else (), actual, sizes):
                        logger.warning(f"results layout: {item} {error}", location=where)
            table_rows.append((spec, " / ".join(dict.fromkeys(types)), shape_spec, content))
        for item, rows in named.items():
            if len(rows) != 1:
                what = "no row names" if not rows else f"rows {rows} all name"
                logger.warning(f"results layout: {what} {item} (written by analyze)",
                               location=(source, line))
        note = (f"Checked against the results file that dynan {dynan.__version__} wrote "
                f"for the bundled {MODEL} network when these pages were built (schema "
                f"version {schema}; {sum(v[1] is not None for v in items.values())} "
                f"datasets, {sum(v[1] is None for v in items.values())} attributes; "
                f"{sizes['trials']} trials of {sizes['time']} bins, N = {sizes['N']} units, "
                f"n_in = {sizes['n_in']}, n_out = {sizes['n_out']}).")
        return [self._table(table_rows), _inline(note)]

    def _table(self, rows):
        table = nodes.table(classes=["results-layout"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (30, 12, 14, 44):
            group += nodes.colspec(colwidth=width)
        head, body = nodes.thead(), nodes.tbody()
        group += head
        group += body

        def row(cells, parent):
            r = nodes.row()
            for cell in cells:
                entry = nodes.entry()
                entry += cell
                r += entry
            parent += r

        row([nodes.paragraph(text=t) for t in ("path", "type", "shape", "content")], head)
        for spec, types, shape, content in rows:
            paths = nodes.paragraph()
            for k, entry in enumerate(e.strip() for e in spec.split(",")):
                if k:
                    paths += nodes.Text(", ")
                paths += nodes.literal(entry, entry)
            row([paths, nodes.paragraph(text=types), _inline(shape), _inline(content)], body)
        return table


def setup(app):
    app.add_directive("results-layout", ResultsLayout)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
