import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from llmxai.viz import labelled_scatter


def test_points_labels_and_groups():
    points = torch.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, -1.0], [2.0, 2.0]])
    ax = labelled_scatter(points, ["a", "b", "c", "d"], ["x", "y", "x", "z"], group_order=["z", "y", "x"],
                          title="t", xlabel="PC 1", ylabel="PC 2")
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c", "d"]
    assert [tuple(t.xy) for t in ax.texts] == [(0.0, 0.0), (1.0, 2.0), (3.0, -1.0), (2.0, 2.0)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["z", "y", "x"]
    drawn = [c.get_offsets().data.tolist() for c in ax.collections]
    assert drawn == [[[2.0, 2.0]], [[1.0, 2.0]], [[0.0, 0.0], [3.0, -1.0]]]
    assert len({tuple(c.get_facecolor()[0]) for c in ax.collections}) == 3
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("t", "PC 1", "PC 2")
    plt.close(ax.figure)


def test_without_groups_there_is_no_legend():
    ax = labelled_scatter(np.array([[0.0, 1.0], [1.0, 0.0]]), ["p", "q"])
    assert ax.get_legend() is None and len(ax.collections) == 1
    plt.close(ax.figure)


@pytest.mark.parametrize("kwargs", [
    dict(points=np.zeros((3, 3)), labels="abc"),
    dict(points=np.zeros(3), labels="abc"),
    dict(points=np.zeros((3, 2)), labels="ab"),
    dict(points=np.zeros((3, 2)), labels="abc", groups=[1, 2]),
    dict(points=np.array([[0.0, np.nan]]), labels="a"),
    dict(points=np.zeros((2, 2)), labels="ab", groups=["x", "y"], group_order=["x"]),
])
def test_bad_input(kwargs):
    with pytest.raises(ValueError, match="expected"):
        labelled_scatter(**kwargs)
    plt.close("all")


def test_colours_follow_group_order_even_when_a_group_is_absent():
    order = ["a", "b", "c"]
    full = labelled_scatter(np.zeros((3, 2)), "xyz", ["a", "b", "c"], group_order=order)
    partial = labelled_scatter(np.zeros((2, 2)), "xz", ["a", "c"], group_order=order)
    colour = lambda ax, i: tuple(ax.collections[i].get_facecolor()[0])
    assert colour(partial, 0) == colour(full, 0) and colour(partial, 1) == colour(full, 2)
    plt.close("all")
