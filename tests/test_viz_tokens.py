import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from llmxai.viz import highlight_tokens, overlay  # noqa: E402


def backgrounds(markup):
    return re.findall(r"background-color: rgba\((\d+), (\d+), (\d+), ([\d.]+)\)", markup)


def test_tokens_are_escaped_and_coloured_by_sign():
    tokens = ["<b>", "good", "&", "bad", '"q"']
    h = highlight_tokens(tokens, torch.tensor([0.5, 1.0, 0.0, -2.0, -0.1]), title="a <title>")
    markup = h._repr_html_()
    for escaped in ["&lt;b&gt;", "good", "&amp;", "bad", "&quot;q&quot;", "a &lt;title&gt;"]:
        assert escaped in markup
    assert "<b>" not in markup
    colours = backgrounds(markup)
    assert len(colours) == 5
    assert colours[1][:3] != colours[3][:3]  # positive and negative get different hues
    assert colours[0][:3] == colours[1][:3]  # same sign, same hue
    assert float(colours[3][3]) == 1.0 and float(colours[1][3]) == 0.5 and float(colours[2][3]) == 0.0
    assert "linear-gradient" in markup and "-2.000" in markup and "+2.000" in markup  # legend


def test_self_contained_html():
    markup = highlight_tokens(["a", "b"], [1.0, -1.0]).html
    assert "<script" not in markup and "http" not in markup and "<link" not in markup and "@import" not in markup


def test_shared_scale():
    a = backgrounds(highlight_tokens(["x"], [1.0], max_abs=4.0).html)[0]
    assert float(a[3]) == 0.25


def test_highlight_bad_input():
    with pytest.raises(ValueError, match="2 scores"):
        highlight_tokens(["a", "b"], [1.0])
    with pytest.raises(TypeError, match="list of strings"):
        highlight_tokens("ab", [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        highlight_tokens(["a"], [float("nan")])


def test_overlay_draws_image_and_resized_map():
    ax = overlay(torch.rand(3, 16, 16), torch.rand(4, 4), title="cam")
    images = ax.get_images()
    assert len(images) == 2 and images[1].get_array().shape == (16, 16)
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="2-D"):
        overlay(torch.rand(8, 8), torch.rand(1, 4, 4))
    with pytest.raises(ValueError, match="image"):
        overlay(torch.rand(2, 8, 8, 8), torch.rand(4, 4))
