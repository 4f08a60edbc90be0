import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.text import Annotation

from llmxai.optim import Value, graph
from llmxai.viz import draw_graph, layered_layout


def expression():
    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    e = a * b
    d = e + c
    L = d * f + a * a  # a is used three times, twice by one operation
    L.label = "L"
    L.backward()
    return L, {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f}


def test_layout_places_every_value_left_of_its_uses():
    L, v = expression()
    nodes, edges = graph(L)
    layout = layered_layout(L)
    assert set(layout) == {id(n) for n in nodes}
    assert all(layout[id(p)][0] < layout[id(c)][0] for p, c in edges)
    last = max(k for k, _ in layout.values())
    assert [n for n in nodes if layout[id(n)][0] == last] == [L]
    for k in range(last + 1):
        rows = sorted(r for layer, r in layout.values() if layer == k)
        assert rows == list(range(len(rows))), f"layer {k}: rows {rows}"
    # an input sits one layer left of its earliest use, not in column 0
    assert layout[id(v["f"])][0] == layout[id(v["d"])][0]
    assert layout[id(v["c"])][0] == layout[id(v["e"])][0]
    assert layout[id(v["a"])][0] == layout[id(v["b"])][0] == 0


def test_layout_orders_a_layer_by_its_uses():
    # two independent chains: each input should sit on the side of the chain it feeds
    x, y = Value(1.0, "x"), Value(2.0, "y")
    top, bottom = (x * 3.0).tanh(), (y * 5.0).tanh()
    root = top + bottom
    layout = layered_layout(root)
    assert layout[id(x)][0] == layout[id(y)][0]
    assert (layout[id(x)][1] < layout[id(y)][1]) == (layout[id(top)][1] < layout[id(bottom)][1])


def test_draw_graph_draws_one_box_per_value_and_one_arrow_per_use():
    L, _ = expression()
    nodes, edges = graph(L)
    ax = draw_graph(L, title="an expression")
    boxes = [t for t in ax.texts if not isinstance(t, Annotation)]
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    assert len(boxes) == len(nodes)
    assert len(arrows) == len(edges) == 10  # five binary operations
    assert ax.get_title() == "an expression"
    joined = "\n".join(t.get_text() for t in boxes)
    assert "L = +" in joined and "grad 10" in joined  # dL/da = f * b + 2a = (-2)(-3) + 4
    # the two arrows from a into a * a are bent differently, so both show
    square = next(n for n in nodes if n.op == "*" and n.parents[0][0] is n.parents[1][0])
    into_square = [a for a in arrows if a.xycoords is boxes[nodes.index(square)]]
    rads = {a.arrow_patch.get_connectionstyle().rad for a in into_square}
    assert len(into_square) == 2 and len(rads) == 2
    plt.close(ax.figure)


def test_draw_graph_uses_the_given_axes_and_hides_gradients_on_request():
    x = Value(0.5, "x")
    y = x.sigmoid()
    fig, ax = plt.subplots()
    out = draw_graph(y, ax=ax, show_grad=False)
    assert out is ax
    assert not any("grad" in t.get_text() for t in ax.texts)
    assert len([t for t in ax.texts if not isinstance(t, Annotation)]) == 2
    plt.close(fig)


def test_single_value_graph():
    ax = draw_graph(Value(3.0, "x"))
    assert [t.get_text() for t in ax.texts] == ["x\ndata 3\ngrad 0"]
    plt.close(ax.figure)


@pytest.mark.parametrize("bad", [3.0, torch.tensor(1.0), None, [Value(1.0)]])
def test_bad_root_is_rejected(bad):
    with pytest.raises(TypeError, match="root: expected a Value"):
        layered_layout(bad)
    with pytest.raises(TypeError, match="root: expected a Value"):
        draw_graph(bad)
