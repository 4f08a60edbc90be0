"""Computation graphs of :class:`llmxai.optim.Value` drawn in layers, inputs on the left.

Every arrow points to the right, from a value to the operation that uses it; within a
layer, values are ordered by the mean height of the values that use them (the barycentre heuristic of Sugiyama, Tagawa & Toda 1981,
doi:10.1109/TSMC.1981.4308636), which keeps most arrows from crossing.
"""

import matplotlib.pyplot as plt

from llmxai.optim.engine import Value, graph

_INCHES_PER_LAYER = 2.1  # a row is one inch; arcs are bent in inches, limits set in rows


def layered_layout(root):
    """Return ``{id(value): (layer, row)}`` for every value in the graph of ``root``.

    ``root`` is in the last layer and every other value one layer left of its earliest use
    (``layer = depth - longest path from the value to root``), so inputs sit next to the
    operation that reads them; ``row`` counts from the top (0) within a layer.
    """
    if not isinstance(root, Value):
        raise TypeError(f"root: expected a Value, got {type(root).__name__}")
    nodes, _ = graph(root)
    to_root = {}
    for node in reversed(nodes):  # reverse topological order: every use is already placed
        to_root.setdefault(id(node), 0)
        for parent, _ in node.parents:
            to_root[id(parent)] = max(to_root.get(id(parent), 0), to_root[id(node)] + 1)
    depth = max(to_root.values())
    layer = {id(node): depth - to_root[id(node)] for node in nodes}
    users = {}
    for node in nodes:
        for parent, _ in node.parents:
            users.setdefault(id(parent), []).append(node)
    by_layer = {}
    for node in nodes:
        by_layer.setdefault(layer[id(node)], []).append(node)
    row, height = {}, {}  # height: the row's vertical position, centred in its layer
    for k in sorted(by_layer, reverse=True):
        members = by_layer[k]
        if k < depth:
            def barycentre(node):
                ys = [height[id(u)] for u in users[id(node)]]
                return -sum(ys) / len(ys)
            members.sort(key=barycentre)  # stable: ties keep topological order
        for r, node in enumerate(members):
            row[id(node)], height[id(node)] = r, (len(members) - 1) / 2 - r
    return {id(node): (layer[id(node)], row[id(node)]) for node in nodes}


def _node_text(node, show_grad, fmt):
    name = node.label or ("const" if not node.op else "")
    if node.op:
        name = f"{name} = {node.op}" if name else node.op
    lines = [name, "data " + fmt.format(node.data)]
    if show_grad:
        lines.append("grad " + fmt.format(node.grad))
    return "\n".join(lines)


def draw_graph(root, *, ax=None, show_grad=True, title=None, fmt="{:.4g}"):
    """Draw the graph that computed ``root``: one box per value (its label or operation, data and
    gradient), one arrow per use of a value; return the matplotlib ``Axes``.

    Values sit in columns by :func:`layered_layout`; a value used twice by the same operation
    (``a * a``) gets two arrows, bent apart so both show; an arrow that skips a layer bends
    outwards, around the boxes in between.
    """
    layout = layered_layout(root)
    nodes, edges = graph(root)
    n_layers = 1 + max(k for k, _ in layout.values())
    count = {}  # values per layer
    for k, _ in layout.values():
        count[k] = count.get(k, 0) + 1
    tallest = max(count.values())

    def position(node):
        k, r = layout[id(node)]
        return k, (count[k] - 1) / 2 - r  # centre each column vertically

    arrows, seen, bulge = [], {}, {-1.0: 0.0, 1.0: 0.0}  # inches above (-1) and below (+1)
    for parent, child in edges:
        key = (id(parent), id(child))
        repeat = seen.get(key, 0)
        seen[key] = repeat + 1
        (x0, y0), (x1, y1) = position(parent), position(child)
        # An arrow that skips a layer, or repeats one already drawn, bends away from the middle
        # (negative rad bends left of its direction, i.e. up), so it passes no box and hides no twin.
        outward = -1.0 if y0 + y1 >= 0 else 1.0
        span = x1 - x0
        rad = outward * (0.6 * (span > 1) + 0.3 * repeat) / span  # the bulge grows as rad * span
        bulge[outward] = max(bulge[outward], abs(rad) * span * _INCHES_PER_LAYER / 2)
        arrows.append((parent, child, rad))
    if ax is None:
        _, ax = plt.subplots(figsize=(_INCHES_PER_LAYER * n_layers + 0.6, tallest + bulge[-1.0] + bulge[1.0] + 1.0))

    boxes = {}
    for node in nodes:
        colour = "#fde0c5" if node is root else ("#dbe9f6" if not node.parents else "#eeeeee")
        boxes[id(node)] = ax.text(
            *position(node), _node_text(node, show_grad, fmt), ha="center", va="center", fontsize=8,
            bbox=dict(boxstyle="round,pad=0.35", facecolor=colour, edgecolor="0.3"), zorder=2,
        )
    for parent, child, rad in arrows:
        ax.annotate(
            "", xy=(0.0, 0.5), xycoords=boxes[id(child)], xytext=(1.0, 0.5), textcoords=boxes[id(parent)],
            arrowprops=dict(arrowstyle="->", color="0.25", lw=1.0, connectionstyle=f"arc3,rad={rad}"),
            zorder=1,
        )
    ax.set_xlim(-0.6, n_layers - 0.4)
    ax.set_ylim(-tallest / 2 - bulge[1.0], tallest / 2 + bulge[-1.0])
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax
