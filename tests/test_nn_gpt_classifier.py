import pytest
import torch

from llmxai.hooks import run_with_cache
from llmxai.nn import GPT, GPTClassifier, TransformerClassifier


def tiny_lm(mlp=True):
    torch.manual_seed(0)
    return GPT(13, d_model=16, n_heads=2, n_layers=2, d_ff=24, max_len=10, mlp=mlp, activation="relu").double()


def batch():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(1, 13, (3, 7), generator=g)
    x[1, 5:] = 0
    x[2, 2:] = 0
    return x, torch.tensor([7, 5, 2])


@pytest.mark.parametrize("mlp", [True, False])
def test_from_lm_reads_the_language_models_last_real_state(mlp):
    lm = tiny_lm(mlp)
    clf = GPTClassifier.from_lm(lm, 4)
    assert clf.head.weight.dtype == torch.float64 and clf.head.out_features == 4
    assert hasattr(clf.blocks[0], "mlp") == mlp and len(clf.blocks) == 2
    x, lengths = batch()
    _, cache = run_with_cache(clf, x, names=["hook_pooled"])
    pooled = cache["hook_pooled"]  # (B, d_model)
    # the LM's own logits at the last real token are its unembedding of the same state
    want = lm(x)[torch.arange(3), lengths - 1]
    torch.testing.assert_close(lm.unembed(pooled), want, atol=1e-12, rtol=0)
    torch.testing.assert_close(clf(x), clf.head(pooled), atol=1e-12, rtol=0)
    for name, p in lm.named_parameters():
        if not name.startswith("unembed"):
            assert torch.equal(p, clf.get_parameter(name)) and p.data_ptr() != clf.get_parameter(name).data_ptr()


def test_padding_is_never_read_and_forward_embedded_matches():
    clf = GPTClassifier(13, 2, d_model=16, n_heads=2, n_layers=2, d_ff=24, max_len=10).double()
    x, lengths = batch()
    logits = clf(x)
    torch.testing.assert_close(clf.forward_embedded(clf.embed(x), lengths), logits, atol=1e-12, rtol=0)
    for b in range(3):
        torch.testing.assert_close(clf(x[b:b + 1, :lengths[b]]), logits[b:b + 1], atol=1e-12, rtol=0)
    junk = x.clone()
    junk[x == 0] = 5
    torch.testing.assert_close(clf(junk, lengths), logits, atol=1e-12, rtol=0)
    assert torch.equal(TransformerClassifier.lengths(x), lengths)


def test_fine_tuning_changes_the_copy_not_the_lm():
    lm = tiny_lm()
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    clf = GPTClassifier.from_lm(lm, 2)
    x, lengths = batch()
    torch.nn.functional.cross_entropy(clf(x, lengths), torch.tensor([0, 1, 1])).backward()
    assert all(p.grad is not None for p in clf.parameters())
    with torch.no_grad():
        for p in clf.parameters():
            p -= 0.1 * p.grad
    assert all(torch.equal(v, lm.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("call, error, text", [
    (lambda: GPTClassifier.from_lm(TransformerClassifier(13, 2), 2), TypeError, "GPT"),
    (lambda: GPTClassifier.from_lm(tiny_lm(), 1), ValueError, "n_classes"),
    (lambda: GPTClassifier(13, 1), ValueError, "n_classes"),
    (lambda: GPTClassifier(13, 2)(torch.tensor([[3, 0, 4]])), ValueError, "padding id 0"),
    (lambda: GPTClassifier(13, 2)(torch.tensor([[3, 4]]), torch.tensor([3])), ValueError, "lengths"),
    (lambda: GPTClassifier(13, 2)(torch.tensor([[3, 4]]), torch.tensor([1, 2])), ValueError, "batch size"),
    (lambda: GPTClassifier(13, 2)(torch.tensor([[3, 4]]), torch.tensor([2.0])), TypeError, "integer"),
    (lambda: GPTClassifier(13, 2)(torch.tensor([[3, 14]])), ValueError, "13"),
])
def test_bad_input_is_named(call, error, text):
    with pytest.raises(error, match=text):
        call()
