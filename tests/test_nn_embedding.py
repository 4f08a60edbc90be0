import pytest
import torch
from torch import nn

from llmxai.nn import Embedding, one_hot


def test_one_hot_times_matrix_is_the_lookup():
    torch.manual_seed(0)
    emb = Embedding(7, 4).double()
    ids = torch.tensor([[0, 3, 6], [2, 2, 5]])
    onehot = one_hot(ids, 7, dtype=torch.float64)  # (B, T, V)
    assert onehot.shape == (2, 3, 7) and torch.equal(onehot.sum(-1), torch.ones(2, 3, dtype=torch.float64))
    torch.testing.assert_close(onehot @ emb.weight, emb(ids), atol=1e-12, rtol=0)


@pytest.mark.parametrize("padding_idx", [None, 0, 3])
def test_equals_torch_embedding_values_and_gradients(padding_idx):
    torch.manual_seed(0)
    ref = nn.Embedding(9, 5, padding_idx=padding_idx).double()
    ours = Embedding.from_torch(ref)
    ids = torch.tensor([[0, 3, 3, 8], [1, 0, 4, 3]])
    up = torch.randn(2, 4, 5, dtype=torch.float64)
    a, b = ours(ids), ref(ids)
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    (a * up).sum().backward()
    (b * up).sum().backward()
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, atol=1e-12, rtol=0)
    if padding_idx is not None:
        assert torch.equal(ours.weight.grad[padding_idx], torch.zeros(5, dtype=torch.float64))


def test_padding_row_starts_at_zero():
    assert torch.equal(Embedding(5, 3, padding_idx=0).weight[0], torch.zeros(3))


@pytest.mark.parametrize(
    "ids, error, text",
    [
        (torch.tensor([[0, -1]]), ValueError, "ids in"),
        (torch.tensor([[0, 5]]), ValueError, r"\[0, 5\)"),
        (torch.tensor([[0.0, 1.0]]), TypeError, "integer"),
        (torch.zeros(2, 0, dtype=torch.long), ValueError, "at least one token"),
        (torch.zeros(1, 2, 3, dtype=torch.long), ValueError, "1-D or 2-D"),
        ([[0, 1]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_ids_are_named(ids, error, text):
    with pytest.raises(error, match=text):
        Embedding(5, 3)(ids)
    with pytest.raises(error, match=text):
        one_hot(ids, 5)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="vocab_size"):
        Embedding(0, 3)
    with pytest.raises(TypeError, match="d_model"):
        Embedding(5, 2.0)
    with pytest.raises(ValueError, match="padding_idx"):
        Embedding(5, 3, padding_idx=5)
    with pytest.raises(TypeError, match="nn.Embedding"):
        Embedding.from_torch(nn.Linear(2, 2))
