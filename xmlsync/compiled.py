"""Speed's one room: the only module that writes Python source and runs it.

Three functions are made here, each once, from the tables that describe the data, and nothing else writes
code: a record's first try (:func:`first_try`, from the field table and the rule table), the writer of a
walked record's XML (:func:`xml_writer`, from the field table) and a flat row's reader (:func:`row_reader`,
from a profile's columns). Each is a plain loop unrolled: one statement per field, in the table's order,
calling the same readers and rules the slow paths call (a kind's ``read``, a rule's ``broken``), so there
is no second meaning to keep in step, only fewer steps. What a generated function cannot vouch for, it
hands to the slow path (``Odd``), which says what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from xmlsync.rules import rules_of
from xmlsync.tree.fields import PROJECT, Leaf, Node, Values
from xmlsync.tree.kinds import Odd, Problem, custom_fields


def _define(name: str, lines: list[str], namespace: dict[str, Any]) -> Any:
    """Run the source ``lines`` in ``namespace`` and return what it defines as ``name``."""
    exec("\n".join(lines), namespace)  # our own code, made from the tables: the only exec of xmlsync
    return namespace[name]


# -- a record's first try ---------------------------------------------------------------------------------
#
# Most records of a feed are plainly right. For them, the first try is a function per node: each value read
# by its kind's ``read``, each rule of the table tested, and no issue built. At the first value that cannot
# be read, or that a rule or a facet may not take, it raises ``Odd`` (or the kind's ``Problem`` passes), and
# the record takes the full walk of :mod:`xmlsync.walk`, which reports each problem.


def first_try(node: Node = PROJECT) -> Callable[..., Any]:
    """Return the first try of a record of ``node``: ``(obj, config, good, known) -> Walked``.

    ``good(tag, text)`` vouches for the values a rule or facet reads, ``known[tag]`` holds those it vouched
    for already (:class:`~xmlsync.rules.Checker`). It raises ``Odd`` or ``Problem`` for a record it cannot
    vouch for.
    """
    namespace: dict[str, Any] = {"Odd": Odd, "custom_fields": custom_fields}
    made: Callable[..., Any] = namespace[_first_try(node, namespace)]
    return made


def _first_try(node: Node, namespace: dict[str, Any]) -> str:
    """Define the first try of ``node`` (and of its children) in ``namespace``; return its name."""
    name = f"_first_{node.element}_{id(node)}"  # one per node: an order's Customer is not an offer's
    namespace[f"{name}_keys"] = node.key_set
    lines = [
        f"def {name}(obj, config, good, known):",
        f"    if type(obj) is not dict or not {name}_keys.issuperset(obj):",
        "        raise Odd",
        "    get = obj.get",
    ]

    def value(kind: Any, key: str, required: bool, target: str) -> None:
        namespace[f"{name}_{key}"] = kind.read
        lines.append(f"    v = get({key!r})")
        lines.append(f"    if v is None:\n        {'raise Odd' if required else 'pass'}")
        lines.append(f"    else:\n        v = {name}_{key}(v, config)")
        if kind.checked:
            lines.append(f"        if v is not None and v not in known[{key!r}] and not good({key!r}, v):")
            lines.append("            raise Odd")
        lines.append(f"    {target} = v")

    if node.ident is not None:
        value(node.ident, "Id", node.ident_required, "ident")
    else:
        lines.append("    ident = None")
    for i, child in enumerate(node.children):
        if isinstance(child, Leaf):
            value(child.kind, child.tag, child.required, f"v{i}")
        elif isinstance(child, Node):
            inner = _first_try(child, namespace)
            lines.append(f"    v = get({child.tag!r})")
            if child.item is None:
                absent = "raise Odd" if child.required else f"v{i} = None"
                lines.append(f"    if v is None:\n        {absent}")
                lines.append(f"    else:\n        v{i} = {inner}(v, config, good, known)")
            else:
                lines.append("    if v is None:\n        v = ()")
                lines.append("    elif type(v) is not list:\n        raise Odd")
                if child.required:
                    lines.append("    if not v:\n        raise Odd")
                lines.append(f"    v{i} = [{inner}(item, config, good, known) for item in v]")
        elif isinstance(child, Values):
            namespace[f"{name}_{child.item}"] = child.kind.read
            lines.append(f"    v{i} = get({child.tag!r})")
            lines.append(f"    if v{i} is None:\n        v{i} = []")
            lines.append(f"    elif type(v{i}) is not list:\n        raise Odd")
            lines.append(f"    else:\n        v{i} = [{name}_{child.item}(item, config) for item in v{i}]")
            if child.kind.checked:
                check = f"item not in known[{child.item!r}] and not good({child.item!r}, item)"
                lines.append(f"    if any({check} for item in v{i}):\n        raise Odd")
        else:  # custom card fields
            namespace[f"{name}_reserved"] = child.reserved
            lines.append(f"    v{i} = get({child.tag!r})")
            lines.append(f"    if v{i} is not None:\n        v{i} = custom_fields(v{i}, {name}_reserved, config)")
    for number, rule in enumerate(rules_of(node)):  # a record that may break a rule takes the full walk
        namespace[f"{name}_rule{number}"] = rule
        args = []
        for tag in rule.reads:
            child = node.by_tag[tag]
            at = f"v{node.children.index(child)}"
            if isinstance(child, Node):  # a record: whether it is there; a list: how many items it has
                at = f"{at} is not None" if child.item is None else f"len({at})"
            args.append(at)
        values = ", ".join(args)
        test = f"{name}_rule{number}.broken({values}) is not None"
        if rule.suspect is not None:
            test = f"{name}_rule{number}.suspect({values}) and {test}"
        lines.append(f"    if {test}:\n        raise Odd")
    for i, child in enumerate(node.children):  # Ids within a list: the Id rule of the list's items
        if isinstance(child, Node) and child.unique_ids:
            lines.append(f"    if len({{item[0] for item in v{i}}}) != len(v{i}):\n        raise Odd")
    lines.append(f"    return ident, [{', '.join(f'v{i}' for i in range(len(node.children)))}]")
    _define(name, lines, namespace)
    return name


# -- the writer of a walked record's XML -------------------------------------------------------------------


def xml_writer(
    escape: Callable[[str], str], values: Callable[..., None], custom: Callable[..., None], node: Node = PROJECT
) -> Callable[..., None]:
    """Return the writer of a walked record of ``node``: ``(walked, out, depth, newlines) -> None``, appending
    its element's text to ``out``, one line per field in the table's order; ``escape``, ``values`` and
    ``custom`` write a text, a list of values and custom fields (:mod:`xmlsync.builder`)."""
    namespace: dict[str, Any] = {"escape": escape, "_values": values, "_custom": custom}
    made: Callable[..., None] = namespace[_writer(node, namespace)]
    return made


def _writer(node: Node, namespace: dict[str, Any]) -> str:
    """Define the writer of one record of ``node`` (and those of its children) in ``namespace``; return its name."""
    name = f"_emit_{node.element}_{id(node)}"  # one per node (two nodes write a <Customer>)
    tag = node.element
    lines = [f"def {name}(walked, out, d, N):", "    ident, values = walked", "    here, inner = N[d], N[d + 1]"]
    opening = f'{{here}}<{tag} Id="{{ident}}">' if node.ident is not None else f"{{here}}<{tag}>"
    if node.ident is not None and not node.ident_required:
        lines.append(f"    out.append(f\"{{here}}<{tag}>\" if ident is None else f'{opening}')")
    else:
        lines.append(f"    out.append(f'{opening}')")
    names = [f"v{i}" for i in range(len(node.children))]
    lines.append(f"    {', '.join(names)}{',' if len(names) == 1 else ''} = values")
    run: list[str] = []  # consecutive required leaves: written with one append

    def flush() -> None:
        if run:
            lines.append(f'    out.append(f"{"".join(run)}")')
            run.clear()

    for var, child in zip(names, node.children, strict=True):
        if isinstance(child, Leaf):
            value = f"{{{var}}}" if child.kind.plain else f"{{escape({var})}}"
            leaf = f"{{inner}}<{child.tag}>{value}</{child.tag}>"
            if child.required:
                run.append(leaf)
                continue
            flush()
            lines.append(f'    if {var} is not None:\n        out.append(f"{leaf}")')
            continue
        flush()
        if isinstance(child, Node):
            inner = _writer(child, namespace)
            if child.item is None:
                call = f"{inner}({var}, out, d + 1, N)"
                lines.append(f"    {call}" if child.required else f"    if {var} is not None:\n        {call}")
            else:
                test = "True" if child.required else var
                lines.append(f"    if {test}:")
                lines.append(f'        out.append(f"{{inner}}<{child.tag}>")')
                lines.append(f"        for item in {var}:\n            {inner}(item, out, d + 2, N)")
                lines.append(f'        out.append(f"{{inner}}</{child.tag}>")')
        elif isinstance(child, Values):
            lines.append(f"    if {var}:")
            lines.append(f"        _values(out, {child.tag!r}, {child.item!r}, {var}, d + 1, N)")
        else:
            lines.append(f"    if {var}:\n        _custom(out, {child.wrapper!r}, {var}, d + 1, N)")
    flush()
    lines.append(f'    out.append(f"{{here}}</{tag}>")')
    _define(name, lines, namespace)
    return name


# -- a flat row's reader -----------------------------------------------------------------------------------

# A column the reader reads: the field's name, its place in a row, whether it is a plain text (kept as it is),
# the reader of its usual texts (or None), whether an empty cell is refused, and its key in a product line
# (None: a value of the record).
RowColumn = tuple[str, int, bool, Callable[[str], Any] | None, bool, str | None]


def row_reader(
    columns: Sequence[RowColumn],
    record_constants: dict[str, Any],
    product_constants: dict[str, Any],
    convert: Callable[[str, Any], Any],
) -> Callable[[Sequence[Any]], tuple[dict[str, Any], dict[str, Any]]]:
    """Return the first try at reading ``columns`` of a row: ``cells -> (values, product line)``.

    Most rows are plainly right: each text in its usual form. The reader reads such a row with one statement
    per column; at the first value that is not plainly right (one ``convert(name, cell)`` cannot read, an
    empty required one) it raises ``Odd``, and the grouper (:mod:`xmlsync.readers.rows`) reads the row column by
    column and says what is wrong.
    """
    namespace: dict[str, Any] = {
        "Odd": Odd,
        "record_constants": record_constants,
        "product_constants": product_constants,
        "convert": convert,
    }
    lines = ["def read(cells):", "    values = dict(record_constants)", "    product = dict(product_constants)"]
    for i, (name, at, plain, usual, required, key) in enumerate(columns):
        namespace[f"usual{i}"], namespace[f"name{i}"] = usual, name
        lines.append(f"    v = cells[{at}]")
        if plain:
            lines.append(f"    v = v.strip() or None if type(v) is str else convert(name{i}, v)")
        elif usual is not None:
            lines.append(f"    v = r if type(v) is str and (r := usual{i}(v)) is not None else convert(name{i}, v)")
        else:
            lines.append(f"    v = convert(name{i}, v)")
        if required:
            lines.append("    if v is None:\n        raise Odd")
        if key is None:
            lines.append(f"    values[{name!r}] = v")
        else:
            lines.append(f"    if v is not None:\n        product[{key!r}] = v")
    lines.append("    return values, product")
    made: Callable[[Sequence[Any]], tuple[dict[str, Any], dict[str, Any]]] = _define("read", lines, namespace)
    return made


__all__ = ["Odd", "Problem", "first_try", "row_reader", "xml_writer"]
