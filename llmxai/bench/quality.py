"""Quality section: how well each explanation method finds the words that decide a sentiment.

The sentiment task knows its rationale (the deciding negator, intensifier and adjective), so
each method's token scores can be judged against it by ROC-AUC (``rationale_auc``), and
against the model itself by deletion AOPC (``aopc``: the mean drop of the target's
probability as the top-scored tokens are replaced by ``<unk>``, one token per step). The
target is the true label; sentences are grouped by length so that no padding enters.
"""

import contextlib
import math
import time

import torch

from llmxai.data import UNK_ID, sentiment_dataset
from llmxai.explain import (aopc, attention_rollout, attn_lrp, cp_lrp, gradient_x_input, integrated_gradients,
                            kernel_shap, leave_one_out, lime, lrp, rationale_auc, saliency, smoothgrad, token_scores)
from llmxai.hooks import run_with_cache

N_SENTENCES, N_PERTURB = 200, 50  # LIME and KernelSHAP (hundreds of forward passes each) on the first 50
QUICK_SENTENCES, QUICK_PERTURB = 8, 4


def _methods(kind, quick):
    """``(label, fn(model, ids, target) -> (B, T) token scores, perturbation-heavy?)`` for one model kind."""
    steps, noisy, samples = (8, 4, 32) if quick else (50, 25, 500)
    rng, rng_subset = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    rows = [
        ("random baseline", lambda m, x, y: torch.rand(x.shape, generator=rng).to(x.device), False),
        ("saliency (L2 norm)", lambda m, x, y: token_scores(saliency(m, x, y), how="norm"), False),
        ("gradient x input", lambda m, x, y: token_scores(gradient_x_input(m, x, y)), False),
        (f"Integrated Gradients ({steps} steps)",
         lambda m, x, y: token_scores(integrated_gradients(m, x, y, steps=steps)), False),
        (f"SmoothGrad ({noisy} samples, L2 norm)",
         lambda m, x, y: token_scores(smoothgrad(m, x, y, n_samples=noisy), how="norm"), False),
    ]
    if kind == "lstm":
        rows += [
            ("LRP-epsilon (Arras et al. 2017)", lambda m, x, y: token_scores(lrp(m, x, y)), False),
            ("attention weights (pooling)",
             lambda m, x, y: run_with_cache(m, x, names=["hook_attn_weights"])[1]["hook_attn_weights"], False),
        ]
    else:
        rows += [
            ("CP-LRP (epsilon)", lambda m, x, y: token_scores(cp_lrp(m, x, y)), False),
            ("AttnLRP", lambda m, x, y: token_scores(attn_lrp(m, x, y)), False),
            # The classifier averages its last layer over tokens, so a token's share is the mean of its column.
            ("attention rollout", lambda m, x, y: attention_rollout(m, x).mean(1), False),
        ]
    rows += [
        ("random baseline (LIME/SHAP subset)",
         lambda m, x, y: torch.rand(x.shape, generator=rng_subset).to(x.device), True),
        ("leave-one-out (occlusion)", lambda m, x, y: leave_one_out(m, x, y, baseline=UNK_ID), False),
        (f"LIME ({samples} samples)", lambda m, x, y: lime(m, x, y, baseline=UNK_ID, n_samples=samples), True),
        (f"KernelSHAP ({samples} samples)",
         lambda m, x, y: kernel_shap(m, x, y, baseline=UNK_ID, n_samples=samples), True),
    ]
    return rows


def _models_and_data(quick, device):
    """The two classifiers (untrained tiny ones with --quick, else the shipped ones) and the test split."""
    if quick:  # untrained tiny models: exercises every method without training anything
        from llmxai.nn import LSTMAttentionClassifier, TransformerClassifier

        data = sentiment_dataset(n_train=1, n_test=4 * QUICK_SENTENCES, seed=0)
        V = data.tokenizer.vocab_size
        torch.manual_seed(0)
        models = {"LSTM": LSTMAttentionClassifier(V, 2, d_emb=8, d_hidden=8),
                  "Transformer": TransformerClassifier(V, 2, d_model=8, n_heads=2, n_layers=1, d_ff=16)}
        return {k: m.to(device).eval() for k, m in models.items()}, data.test
    from llmxai.pretrained import pretrained
    from llmxai.recipes import sentiment_data

    models = {}
    for label, name in (("LSTM", "sentiment_lstm"), ("Transformer", "sentiment_transformer")):
        models[label] = pretrained(name, device=device)  # the shipped weights: every reader measures the same models
    return models, sentiment_data().test


def _nanmean(values):
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


@contextlib.contextmanager
def _one_thread(device):
    """One intra-op thread on a CPU: these models are too small to gain from more, and on a busy
    machine a second thread waiting at every barrier slows small operations many times over."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def quality(device, quick):
    with _one_thread(device):
        yield from _quality(device, quick)


def _quality(device, quick):
    models, test = _models_and_data(quick, device)
    n, n_perturb = (QUICK_SENTENCES, QUICK_PERTURB) if quick else (N_SENTENCES, N_PERTURB)
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:n]
    perturbed = torch.zeros(len(test), dtype=torch.bool)
    perturbed[order[:n_perturb]] = True
    chosen = torch.zeros(len(test), dtype=torch.bool)
    chosen[order] = True
    groups = []  # (ids (b, L), rationale (b, L), labels (b,), perturbation subset (b,)) per length L
    for L in test.lengths[chosen].unique().tolist():
        rows = chosen & (test.lengths == L)
        groups.append((test.ids[rows, :L].to(device), test.rationale[rows, :L], test.labels[rows].to(device),
                       perturbed[rows]))
    for label, model in models.items():
        for method, fn, heavy in _methods("lstm" if label == "LSTM" else "transformer", quick):
            aucs, aopcs, seconds = [], [], 0.0
            for ids, rationale, y, subset in groups:
                if heavy:
                    if not subset.any():
                        continue
                    ids, rationale, y = ids[subset.to(ids.device)], rationale[subset], y[subset.to(y.device)]
                start = time.perf_counter()
                scores = fn(model, ids, y).detach().float()  # (b, L)
                seconds += time.perf_counter() - start
                aucs += rationale_auc(scores.cpu(), rationale).tolist()
                aopcs += aopc(model, ids, scores, y, baseline=UNK_ID, probability=True).tolist()
            yield dict(table="quality", model=label, method=method, n=len(aopcs), auc=_nanmean(aucs),
                       aopc=_nanmean(aopcs), seconds=seconds)
