import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from llmxai.viz import heatmap


def test_annotations_are_readable_on_a_diverging_map():
    m = np.array([[-1.0, -0.01, 0.0, 0.01, 1.0]])
    ax = heatmap(m, annotate=True, center=0, cmap="RdBu_r")
    colours = [t.get_color() for t in ax.texts]
    # the saturated ends are dark, the middle of RdBu is nearly white
    assert colours == ["white", "black", "black", "black", "white"]
    assert [t.get_text() for t in ax.texts] == ["-1.00", "-0.01", "0.00", "0.01", "1.00"]
    plt.close(ax.figure)


def test_annotations_follow_the_colour_on_viridis():
    ax = heatmap(np.array([[0.0, 1.0]]), annotate=True)  # viridis: dark purple to light yellow
    assert [t.get_color() for t in ax.texts] == ["white", "black"]
    plt.close(ax.figure)


def test_bad_matrix_is_rejected():
    with pytest.raises(ValueError, match="expected a 2-D array"):
        heatmap(np.zeros(3))
