"""Lesson 19 (explanations in practice): one token's share of an attribution, a counterfactual
that puts a token into every sentence, and the share of predictions that the token flips."""

import torch

from llmxai.device import generator
from llmxai.lesson_checks.common import _what, check_own_work, passed, run, tensor_of_shape


def _valid(lengths, T):
    return torch.arange(T)[None] < lengths[:, None]  # (B, T)


def _share(scores, lengths, position, *, absolute=True, padding=False, how="sum", reduce=True):
    a = scores.abs() if absolute else scores
    if not padding:
        a = a * _valid(lengths, scores.shape[1])
    denom = a.sum(1) if how == "sum" else a.amax(1)
    share = a[:, position] / denom  # (B,)
    return share.mean() if reduce else share


def _as_float(got, what):
    if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_complex():
        return float(got.detach().reshape(()))
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        return float(got)
    raise AssertionError(f"{what}: expected one number (a float or a one-element tensor), got {_what(got)}")


def check_token_share(token_share, seed=0):
    """Check ``token_share(scores (B, T), lengths (B,), position) -> float``: the mean over sentences of
    ``|s[b, position]| / sum over the real tokens t < lengths[b] of |s[b, t]|``."""
    from llmxai.explain import rationale_auc

    check_own_work(token_share, forbidden=("rationale_auc", "precision_at_k"), library=(rationale_auc,),
                   exercise="token_share")
    g = generator(seed)
    B, T = 6, 9
    lengths = torch.tensor([4, 9, 6, 5, 7, 3])[torch.randperm(B, generator=g)]
    scores = torch.randn(B, T, generator=g, dtype=torch.float64)
    scores[~_valid(lengths, T)] = 3.0 * torch.rand(int((~_valid(lengths, T)).sum()), generator=g,
                                                   dtype=torch.float64) + 1.0  # padding that must be ignored
    position = 1
    got = run(token_share, scores.clone(), lengths.clone(), position)
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (B,):
        raise AssertionError("one share per sentence: return their mean over the batch, one number")
    value = _as_float(got, "the mean share")
    want = _share(scores, lengths, position).item()
    mistakes = [
        (dict(absolute=False), "take absolute values: a score's size counts, whatever its sign"),
        (dict(padding=True), "the padding is counted: sum |scores| only over the real tokens, t < lengths[b]"),
        (dict(how="max"), "divide by the sum of |scores| over the sentence, not by its largest score"),
    ]
    for switches, hint in mistakes:
        if abs(value - _share(scores, lengths, position, **switches).item()) < 1e-9:
            raise AssertionError(hint)
    ratio_of_means = (scores.abs()[:, position].sum() / (scores.abs() * _valid(lengths, T)).sum()).item()
    if abs(value - ratio_of_means) < 1e-9:
        raise AssertionError("that is the ratio of the totals over the batch: compute the share in each sentence, "
                             "then average the shares")
    if abs(value - want) > 1e-9:
        raise AssertionError("expected the mean over sentences of |s[b, position]| / sum_{t < lengths[b]} |s[b, t]|")
    return passed("token_share")


def _insert(ids, lengths, token, *, where="front", grow=True, update=True):
    B, T = ids.shape
    out = torch.zeros(B, T + 1, dtype=ids.dtype)
    for b in range(B):
        L = int(lengths[b])
        row = ids[b, :L].tolist()
        row = [token] + row if where == "front" else row + [token]
        out[b, :L + 1] = torch.tensor(row, dtype=ids.dtype)
    return out, lengths + 1 if update else lengths.clone()


def check_insert_token(insert_token, seed=0):
    """Check ``insert_token(ids (B, T), lengths (B,), token) -> (ids (B, T + 1), lengths + 1)``: ``token``
    first in every sentence, the words shifted one place right, padding (id 0) after them."""
    from llmxai.recipes import plant_token

    check_own_work(insert_token, forbidden=("plant_token",), library=(plant_token,), exercise="insert_token")
    g = generator(seed)
    B, T, token = 5, 7, 40
    lengths = torch.tensor([3, 7, 5, 2, 6])[torch.randperm(B, generator=g)]
    ids = torch.randint(1, 30, (B, T), generator=g) * _valid(lengths, T)
    got = run(insert_token, ids.clone(), lengths.clone(), token)
    if not (isinstance(got, tuple) and len(got) == 2):
        raise AssertionError(f"return the pair (ids, lengths), got {_what(got)}")
    new_ids, new_lengths = got
    want_ids, want_lengths = _insert(ids, lengths, token)
    if isinstance(new_ids, torch.Tensor) and tuple(new_ids.shape) == (B, T):
        overwritten = ids.clone()
        overwritten[:, 0] = token
        if torch.equal(new_ids, overwritten):
            raise AssertionError("the first word is overwritten: shift every sentence one place right and put "
                                 "the token in front, so the result has T + 1 columns")
        raise AssertionError(f"ids: expected (B, T + 1) = {(B, T + 1)}: one more place for the token")
    tensor_of_shape(new_ids, (B, T + 1), "the new ids (B, T + 1)")
    tensor_of_shape(new_lengths, (B,), "the new lengths (B,)")
    if new_ids.is_floating_point() or new_lengths.is_floating_point():
        raise AssertionError("ids and lengths are integer tensors (torch.long), not floats")
    if torch.equal(new_ids, torch.cat([ids, torch.full((B, 1), token)], dim=1)):
        raise AssertionError("the token went after the padding of the shorter sentences: put it first")
    if torch.equal(new_ids, _insert(ids, lengths, token, where="back")[0]):
        raise AssertionError("the token is at the end of each sentence: put it first, where the tag of the "
                             "chapter stands")
    if torch.equal(new_ids, want_ids) and torch.equal(new_lengths, lengths):
        raise AssertionError("the lengths are unchanged: every sentence is now one token longer")
    if not (torch.equal(new_ids, want_ids) and torch.equal(new_lengths, want_lengths)):
        raise AssertionError("expected each row [token, its words..., 0, ...] and lengths + 1")
    return passed("insert_token")


class _Bag(torch.nn.Module):
    """A tiny text classifier: logits (0, sum of one weight per real token); padding id 0 weighs ``w_pad``."""

    def __init__(self, weights):
        super().__init__()
        self.w = torch.nn.Parameter(weights)

    def forward(self, ids, lengths=None):
        w = self.w[ids]  # (B, T)
        if lengths is not None:
            w = w * _valid(lengths, ids.shape[1])
        s = w.sum(1)
        return torch.stack([torch.zeros_like(s), s], dim=1)  # (B, 2)


def _flip(model, ids, lengths, token, *, what="flip", use_lengths=True):
    new_ids, new_lengths = _insert(ids, lengths, token)
    with torch.no_grad():
        before = (model(ids, lengths) if use_lengths else model(ids)).argmax(-1)
        after = (model(new_ids, new_lengths) if use_lengths else model(new_ids)).argmax(-1)
    if what == "count":
        return float((after != before).sum())
    if what == "positive":
        return (after == 1).double().mean().item()
    return (after != before).double().mean().item()


def check_flip_rate(flip_rate, seed=0):
    """Check ``flip_rate(model, ids, lengths, token, insert_token) -> float``: the share of sentences whose
    predicted class (argmax of ``model(ids, lengths)``) changes when ``insert_token`` puts ``token`` first."""
    from llmxai.evaluation import accuracy

    check_own_work(flip_rate, forbidden=("accuracy",), library=(accuracy,), exercise="flip_rate")
    g = generator(seed)
    B, T, V, token = 16, 6, 20, 19
    weights = torch.randn(V, generator=g, dtype=torch.float64)
    weights[0] = 1.5        # padding: a model run without lengths reads it as words
    weights[token] = 2.0    # the tag pushes towards class 1
    model = _Bag(weights).eval()
    lengths = torch.randint(2, T + 1, (B,), generator=g)
    ids = torch.randint(1, V - 1, (B, T), generator=g) * _valid(lengths, T)
    got = run(flip_rate, model, ids.clone(), lengths.clone(), token, lambda i, l, t: _insert(i, l, t))
    value = _as_float(got, "the flip rate")
    want = _flip(model, ids, lengths, token)
    if abs(value - want) < 1e-9:
        return passed("flip_rate")
    mistakes = [
        (_flip(model, ids, lengths, token, what="count"), "that is the number of flipped sentences: divide by "
                                                          "the number of sentences"),
        (_flip(model, ids, lengths, token, use_lengths=False), "call the model with the lengths, model(ids, "
                                                               "lengths): without them it reads the padding as words"),
        (1 - want, "that is the share of predictions that stay the same: count those that change"),
        (_flip(model, ids, lengths, token, what="positive"), "that is the share predicted positive after the "
                                                             "insertion: compare each prediction after with the "
                                                             "prediction before"),
    ]
    for wrong, hint in mistakes:
        if abs(value - wrong) < 1e-9:
            raise AssertionError(hint)
    raise AssertionError("expected the share of sentences whose argmax prediction changes when the token is "
                         "inserted")
