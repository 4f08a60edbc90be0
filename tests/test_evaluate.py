import pytest
import torch
from torch import nn

from llmxai.explain.evaluate import (aopc, cascading_randomization, comprehensiveness, deletion_curve,
                                     independent_randomization, insertion_curve, precision_at_k, rank_correlation,
                                     rationale_auc, spearman, sufficiency)

D = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def linear(F=8, C=2, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(F, C).to(D).eval()


def mlp(F=8, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(F, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)).to(D).eval()


class BagOfTokens(nn.Module):
    def __init__(self, V=12, C=3, seed=0):
        super().__init__()
        self.W = nn.Parameter(torch.randn(V, C, generator=gen(seed), dtype=D))
        with torch.no_grad():
            self.W[0] = 0
        self.eval()

    def forward(self, ids):
        return self.W[ids].sum(1)


def grad_x_input(model, x, target):
    x = x.clone().requires_grad_(True)
    g, = torch.autograd.grad(model(x)[:, target].sum(), x)
    return g * x


def test_rationale_auc_perfect_reversed_random():
    r = torch.zeros(2000, dtype=torch.bool)
    r[torch.randperm(2000, generator=gen(0))[:300]] = True
    s = r.double() + 0.1 * torch.rand(2000, generator=gen(1), dtype=D)
    assert float(rationale_auc(s, r)) == 1.0
    assert float(rationale_auc(-s, r)) == 0.0
    assert abs(float(rationale_auc(torch.rand(2000, generator=gen(2), dtype=D), r)) - 0.5) < 0.05


def test_rationale_auc_with_ties_equals_sklearn():
    from sklearn.metrics import roc_auc_score

    s = torch.randint(0, 4, (3, 50), generator=gen(3)).double()  # many ties
    r = torch.rand(3, 50, generator=gen(4)) < 0.3
    ours = rationale_auc(s, r)
    for i in range(3):
        assert float(ours[i]) == pytest.approx(roc_auc_score(r[i].numpy(), s[i].numpy()), abs=1e-12)
    valid = torch.ones(3, 50, dtype=torch.bool)
    valid[:, 40:] = False
    sub = rationale_auc(s, r, valid=valid)
    assert float(sub[1]) == pytest.approx(roc_auc_score(r[1, :40].numpy(), s[1, :40].numpy()), abs=1e-12)
    with pytest.raises(ValueError, match="in row 1"):  # as roc_auc_score: one class only has no AUC
        rationale_auc(s[:2], torch.stack([r[0], torch.zeros(50, dtype=torch.bool)]))


def test_precision_at_k_by_hand():
    s = torch.tensor([[0.9, 0.1, 0.8, 0.3], [0.2, 0.2, 0.1, 0.7]], dtype=D)
    r = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 1]])
    torch.testing.assert_close(precision_at_k(s, r, 2), torch.tensor([0.5, 0.5], dtype=D))
    torch.testing.assert_close(precision_at_k(s, r, 3), torch.tensor([2 / 3, 2 / 3], dtype=D))
    assert float(precision_at_k(s[0], r[0], 1)) == 1.0


def test_spearman_equals_scipy_with_ties():
    from scipy.stats import spearmanr

    a = torch.randint(0, 5, (40,), generator=gen(5)).double()
    b = a + torch.randint(0, 3, (40,), generator=gen(6)).double()
    assert float(spearman(a, b)) == pytest.approx(spearmanr(a.numpy(), b.numpy())[0], abs=1e-12)
    assert float(spearman(a, a)) == pytest.approx(1.0)
    assert float(spearman(a, -a)) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="b: expected values that are not all equal"):
        spearman(a, torch.ones(40, dtype=D))
    x = torch.randn(3, 2, 5, generator=gen(7), dtype=D)
    y = x + torch.randn(3, 2, 5, generator=gen(8), dtype=D)
    per = rank_correlation(x, y)
    assert per.shape == (3,)
    assert float(per[1]) == pytest.approx(spearmanr(x[1].flatten().numpy(), y[1].flatten().numpy())[0], abs=1e-12)
    torch.testing.assert_close(rank_correlation(x, -x, absolute=True), torch.ones(3, dtype=D))


def test_deletion_curve_on_linear_model_by_hand_and_against_random_order():
    model = linear()
    x = torch.randn(4, 8, generator=gen(9), dtype=D)
    true = model.weight[1] * x  # exact contributions of each feature to logit 1
    curve = deletion_curve(model, x, true, 1)
    assert curve.fractions.shape == (9,) and curve.scores.shape == (4, 9)
    drops = true.sort(1, descending=True).values.cumsum(1)
    expected = model(x)[:, 1:2] - torch.cat([torch.zeros(4, 1, dtype=D), drops], 1)
    torch.testing.assert_close(curve.scores, expected.detach(), rtol=0, atol=1e-12)
    torch.testing.assert_close(curve.auc, torch.trapezoid(expected.detach(), torch.linspace(0, 1, 9, dtype=D), dim=1))
    random = torch.randn(4, 8, generator=gen(10), dtype=D)
    assert (curve.auc < deletion_curve(model, x, random, 1).auc).all()
    ins, ins_random = insertion_curve(model, x, true, 1), insertion_curve(model, x, random, 1)
    assert (ins.auc > ins_random.auc).all()
    torch.testing.assert_close(ins.scores[:, -1], curve.scores[:, 0])
    torch.testing.assert_close(ins.scores[:, 0], curve.scores[:, -1])
    coarse = deletion_curve(model, x, true, 1, steps=4)
    torch.testing.assert_close(coarse.scores, curve.scores[:, ::2])


def test_aopc_by_hand_and_on_tokens():
    model = linear()
    x = torch.randn(2, 8, generator=gen(11), dtype=D)
    true = model.weight[0] * x
    drops = torch.cat([torch.zeros(2, 1, dtype=D), true.sort(1, descending=True).values.cumsum(1)], 1)
    torch.testing.assert_close(aopc(model, x, true, 0), drops.mean(1).detach(), rtol=0, atol=1e-12)
    bag = BagOfTokens()
    ids = torch.tensor([[3, 5, 7, 2, 9, 4]])
    contrib = bag.W[ids[0], 2]
    curve = deletion_curve(bag, ids, contrib[None], 2)
    assert (curve.scores[0, 1:] <= curve.scores[0, :-1] + 1e-12).sum() >= 3
    assert float(aopc(bag, ids, contrib[None], 2)) > float(aopc(bag, ids, -contrib[None], 2))


def test_comprehensiveness_and_sufficiency_by_hand():
    bag = BagOfTokens()
    ids = torch.tensor([[3, 5, 7, 2, 9, 4], [1, 6, 8, 10, 11, 2]])
    target = torch.tensor([0, 1])
    contrib = bag.W[ids, target[:, None]].detach()  # (B, T)
    mask = torch.tensor([[1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 0]], dtype=torch.bool)
    comp = comprehensiveness(bag, ids, mask, target, probability=False)
    suff = sufficiency(bag, ids, mask, target, probability=False)
    torch.testing.assert_close(comp, (contrib * mask).sum(1), rtol=0, atol=1e-12)
    torch.testing.assert_close(suff, (contrib * ~mask).sum(1), rtol=0, atol=1e-12)
    # Soft scores: top 1 and top 3 tokens (fractions 1/6, 1/2), averaged.
    soft = comprehensiveness(bag, ids, contrib, target, fractions=(1 / 6, 0.5), probability=False)
    top = contrib.sort(1, descending=True).values
    torch.testing.assert_close(soft, (top[:, 0] + top[:, :3].sum(1)) / 2, rtol=0, atol=1e-12)
    p = comprehensiveness(bag, ids, mask, target)
    with torch.no_grad():
        full = bag(ids).softmax(-1).gather(1, target[:, None])[:, 0]
        kept = bag(ids * ~mask).softmax(-1).gather(1, target[:, None])[:, 0]
    torch.testing.assert_close(p, full - kept, rtol=0, atol=1e-12)


def test_randomization_sanity_checks():
    model = mlp()
    x = torch.randn(6, 8, generator=gen(12), dtype=D)
    before = [p.clone() for p in model.parameters()]
    res = cascading_randomization(model, grad_x_input, x, 0, seed=1)
    assert res.layers == ["4", "2", "0"] and res.correlations.shape == (3, 6)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert res.correlations[-1].mean() < 0.6  # fully random network: explanation changed
    again = cascading_randomization(model, grad_x_input, x, 0, seed=1)
    torch.testing.assert_close(again.correlations, res.correlations, rtol=0, atol=0)
    ind = independent_randomization(model, grad_x_input, x, 0, layers=["0", "4"])
    assert ind.layers == ["0", "4"] and ind.correlations.shape == (2, 6)
    # An "explanation" that ignores the model (like an edge detector) fails the check: correlation 1.
    blind = cascading_randomization(model, lambda m, inp, t: inp.abs() + 0 * m(inp)[:, :1], x, 0)
    torch.testing.assert_close(blind.correlations, torch.ones(3, 6, dtype=D))


@pytest.mark.parametrize("call, match", [
    (lambda m, x: deletion_curve(m, x, torch.zeros(2, 7, dtype=D), 0), "attributions: expected the shape"),
    (lambda m, x: insertion_curve(m, x, x, 0, steps=0), ">= 1"),
    (lambda m, x: aopc(m, x, x, 5), r"class index in \[0, 2\)"),
    (lambda m, x: comprehensiveness(m, x, x, 0, fractions=(0.0,)), "fractions"),
    (lambda m, x: sufficiency(m, x, torch.zeros(2, 8, dtype=torch.long), 0), "bool mask or float"),
    (lambda m, x: comprehensiveness(m, x, torch.zeros(2, 3, dtype=torch.bool), 0), "rationale: expected the shape"),
    (lambda m, x: rationale_auc(x[0], torch.ones(7, dtype=torch.bool)), "rationale: expected the shape"),
    (lambda m, x: rationale_auc(x[0], torch.full((8,), 2)), "0/1 mask"),
    (lambda m, x: rationale_auc(x[0], x[0] > 0, valid=torch.ones(3, dtype=torch.bool)), "valid: expected"),
    (lambda m, x: precision_at_k(x, x > 0, 0), r"k: expected an int in \[1, 8\]"),
    (lambda m, x: precision_at_k(x, x > 0, 9), r"k: expected an int in \[1, 8\]"),
    (lambda m, x: spearman(x, x[:, :3]), "expected the shape"),
    (lambda m, x: rank_correlation(x, x[:1]), "expected the shape"),
    (lambda m, x: cascading_randomization(m, grad_x_input, x, 0, layers=["9"]), "valid names are"),
    (lambda m, x: independent_randomization(m, "saliency", x, 0), "explain: expected a function"),
    (lambda m, x: cascading_randomization(m, lambda mm, i, t: i.tolist(), x, 0), "explain.*expected a torch.Tensor"),
])
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(linear(), torch.randn(2, 8, generator=gen(13), dtype=D))


def test_perturbation_curves_plot_has_auc_in_legend():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from llmxai.viz import perturbation_curves

    model = linear()
    x = torch.randn(3, 8, generator=gen(14), dtype=D)
    true = model.weight[1] * x
    curves = {"w x": deletion_curve(model, x, true, 1),
              "random": deletion_curve(model, x, torch.randn(3, 8, generator=gen(15), dtype=D), 1)}
    ax = perturbation_curves(curves, title="deletion")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0] == f"w x (AUC {float(curves['w x'].auc.mean()):.3f})" and texts[1].startswith("random (AUC ")
    assert len(ax.lines) == 2 and ax.get_title() == "deletion"
    assert ax.get_xlabel() == "fraction of features removed"
    ins = perturbation_curves({"w x": insertion_curve(model, x, true, 1)})
    assert ins.get_xlabel() == "fraction of features inserted"
    with pytest.raises(TypeError, match="Curve with fractions"):
        perturbation_curves({"bad": (1, 2)})
    with pytest.raises(TypeError, match="non-empty dict"):
        perturbation_curves([])
    plt.close("all")


def test_public_names_are_exported():
    import llmxai.explain as ex

    for name in ex.__all__:
        assert hasattr(ex, name), name
