import pytest
import torch

from llmxai.nn import CBOW, cbow_windows


def test_cbow_windows_by_hand():
    ids = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])  # two sentences padded with 0
    contexts, centres = cbow_windows(ids, window=1)
    assert centres.tolist() == [5, 6, 7, 8, 9]
    assert contexts.tolist() == [[0, 6], [5, 7], [6, 0], [0, 9], [8, 0]]
    contexts, centres = cbow_windows(ids, window=2)
    assert contexts.tolist()[1] == [0, 5, 7, 0]  # two before, two after the centre 6
    assert contexts.shape == (5, 4)


def test_cbow_forward_is_mean_of_real_context_then_linear():
    torch.manual_seed(0)
    model = CBOW(10, 4).double()
    contexts = torch.tensor([[1, 2, 3, 4], [0, 5, 6, 0], [0, 0, 0, 7]])
    logits = model(contexts)
    W, out = model.embedding.weight, model.out
    means = torch.stack([W[[1, 2, 3, 4]].mean(0), W[[5, 6]].mean(0), W[[7]].mean(0)])  # (3, 4)
    expected = means @ out.weight.T + out.bias  # (3, 10)
    assert logits.shape == (3, 10)
    assert torch.allclose(logits, expected, atol=1e-12, rtol=0)


def test_cbow_padding_gets_no_gradient():
    torch.manual_seed(0)
    model = CBOW(10, 4).double()
    model(torch.tensor([[0, 5, 6, 0]])).sum().backward()
    grad = model.embedding.weight.grad
    assert torch.count_nonzero(grad[0]) == 0
    assert torch.count_nonzero(grad[5]) > 0
    assert torch.count_nonzero(grad[[1, 2, 3, 4, 7, 8, 9]]) == 0


def test_cbow_embed_then_forward_embedded_equals_forward():
    torch.manual_seed(0)
    model = CBOW(10, 4)
    contexts = torch.tensor([[1, 2, 0, 4]])
    E = model.embed(contexts)
    assert torch.equal(model.forward_embedded(E, contexts != 0), model(contexts))


@pytest.mark.parametrize("bad, err", [
    (lambda: cbow_windows(torch.tensor([1, 2, 3])), ValueError),
    (lambda: cbow_windows(torch.tensor([[1.0, 2.0]])), TypeError),
    (lambda: cbow_windows(torch.tensor([[1, 2]]), window=0), ValueError),
    (lambda: cbow_windows(torch.zeros(2, 3, dtype=torch.long)), ValueError),
    (lambda: cbow_windows(torch.zeros(0, 3, dtype=torch.long)), ValueError),
    (lambda: CBOW(0, 4), ValueError),
    (lambda: CBOW(10, 4, padding_idx=None), TypeError),
    (lambda: CBOW(10, 4)(torch.tensor([[1, 10]])), ValueError),
    (lambda: CBOW(10, 4)(torch.tensor([1, 2])), ValueError),
    (lambda: CBOW(10, 4)(torch.tensor([[1.0, 2.0]])), TypeError),
    (lambda: CBOW(10, 4).forward_embedded(torch.ones(1, 2, 3)), ValueError),
    (lambda: CBOW(10, 4).forward_embedded(torch.ones(1, 2, 4, dtype=torch.float64)), TypeError),
    (lambda: CBOW(10, 4).forward_embedded(torch.ones(1, 2, 4), torch.ones(1, 3, dtype=torch.bool)), ValueError),
    (lambda: CBOW(10, 4).forward_embedded(torch.ones(1, 2, 4), [[True, True]]), TypeError),
])
def test_bad_input(bad, err):
    with pytest.raises(err, match="expected"):
        bad()
