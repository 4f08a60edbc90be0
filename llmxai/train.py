"""The one training loop.

``fit`` trains any model on batches that are tuples ``(inputs..., target)``; the default
loss is cross-entropy of ``model(*inputs)`` against ``target``. Measuring a trained model
is :mod:`llmxai.evaluation`; the shared trained models are :mod:`llmxai.pretrained`.
"""

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm import tqdm  # the text bar: tqdm.auto warns in kernels without ipywidgets, which the book does not use

from llmxai import validate
from llmxai.device import generator as seeded_generator, get_device, seed_everything
from llmxai.optim import Adam

IGNORE_INDEX = -100  # target value the default loss and accuracy skip (e.g. padding)


def cross_entropy_loss(model, batch):
    """Mean cross-entropy of ``model(*batch[:-1])`` against ``batch[-1]``.

    Logits ``(B, C)`` go with targets ``(B,)``; language-model logits ``(B, T, V)`` with
    targets ``(B, T)``. Targets equal to ``-100`` are ignored.
    """
    *inputs, target = batch
    logits = model(*inputs)
    if logits.dim() == 3:
        logits = logits.reshape(-1, logits.shape[-1])  # (B*T, V)
        target = target.reshape(-1)  # (B*T,)
    return F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)


@dataclass
class History:
    """What happened during :func:`fit`: loss per step, mean loss per epoch, metric per evaluation."""

    step_loss: list = field(default_factory=list)
    epoch_loss: list = field(default_factory=list)
    eval_steps: list = field(default_factory=list)
    metric: list = field(default_factory=list)
    steps: int = 0
    epochs: int = 0
    reached_target: bool = False
    seconds: float = 0.0

    @property
    def final_metric(self):
        return self.metric[-1] if self.metric else None

    @property
    def best_metric(self):
        return max(self.metric) if self.metric else None


def _check_data(train):
    """Return ('tensors', n) for a tuple of tensors, ('callable', None) or ('iterable', None)."""
    if isinstance(train, (tuple, list)):
        if not train:
            raise ValueError("train: expected a tuple of tensors (inputs..., target), got an empty tuple")
        for i, t in enumerate(train):
            validate.tensor(t, f"train[{i}]", min_ndim=1, finite=False)
        n = train[0].shape[0]
        for i, t in enumerate(train):
            validate.same_size(n, t.shape[0], f"train[{i}]: number of examples (first dimension)")
        if n == 0:
            raise ValueError("train: expected at least one example, got 0")
        return "tensors", n
    if callable(train):
        return "callable", None
    if hasattr(train, "__iter__"):
        return "iterable", None
    raise TypeError(
        f"train: expected a tuple of tensors, a callable step -> batch, or an iterable of batches, "
        f"got {type(train).__name__}"
    )


def _to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    return batch


def _batches(kind, train, batch_size, generator, shuffle):
    """One epoch of batches."""
    if kind == "tensors":
        n = train[0].shape[0]
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield tuple(t[idx.to(t.device)] for t in train)
    else:
        yield from train


def fit(model, train, *, loss_fn=None, optimizer=None, lr=None, epochs=None, steps=None,
        batch_size=32, eval_fn=None, eval_every=None, target=None, device=None, seed=0,
        shuffle=True, clip_grad_norm=None, callback=None, progress=True):
    """Train ``model`` and return its :class:`History`.

    ``train`` is one of: a tuple of tensors ``(inputs..., target)`` sharing their first
    dimension (shuffled into batches of ``batch_size`` each epoch by a generator seeded
    with ``seed``); a callable ``step -> batch`` that makes fresh data (e.g. a new
    induction batch per step; needs ``steps``); or any iterable of batches (a DataLoader).

    ``loss_fn(model, batch) -> scalar`` defaults to :func:`cross_entropy_loss`.
    ``optimizer`` is any object with ``zero_grad()`` and ``step()``; without one, Adam
    with learning rate ``lr`` (default 1e-3). Training runs ``epochs`` passes or ``steps``
    updates, whichever ends first. ``eval_fn(model) -> float`` (higher is better) runs in
    eval mode without gradients every ``eval_every`` steps (default: once per epoch, or
    ten times over a step budget) and at the end; training stops as soon as it reaches
    ``target``. ``callback(model, history)`` runs after every update, while the gradients
    of that update are still in ``p.grad`` (after clipping) and ``history.steps`` already
    counts it, so it can record gradient norms, parameter drift or attention snapshots;
    what it returns is ignored. The model is moved to ``device`` (default
    :func:`llmxai.get_device`) and left there in eval mode, since explanation comes next.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    kind, _ = _check_data(train)
    if epochs is None and steps is None:
        raise ValueError("expected epochs or steps (or both), got neither")
    if epochs is not None:
        validate.positive_int(epochs, "epochs")
    if steps is not None:
        validate.positive_int(steps, "steps")
    if kind == "callable" and steps is None:
        raise ValueError("steps: a callable train(step) makes endless data, so it needs steps, got None")
    validate.positive_int(batch_size, "batch_size")
    if eval_every is not None:
        validate.positive_int(eval_every, "eval_every")
    validate.seed(seed)
    if target is not None:
        if eval_fn is None:
            raise ValueError("eval_fn: expected a callable model -> float to compare with target, got None")
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target):
            raise TypeError(f"target: expected a finite number, got {target!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a callable (model, history) -> None, got {type(callback).__name__}")
    if eval_fn is not None and not callable(eval_fn):
        raise TypeError(f"eval_fn: expected a callable model -> float, got {type(eval_fn).__name__}")
    if optimizer is not None and lr is not None:
        raise ValueError("expected optimizer or lr, got both (the optimizer already has its learning rate)")
    if optimizer is not None and not (hasattr(optimizer, "step") and hasattr(optimizer, "zero_grad")):
        raise TypeError(f"optimizer: expected an object with step() and zero_grad(), got {type(optimizer).__name__}")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0):
        raise ValueError(f"lr: expected a positive number, got {lr!r}")
    loss_fn = cross_entropy_loss if loss_fn is None else loss_fn

    device = get_device(device)
    seed_everything(seed)
    model.to(device)
    if optimizer is None:
        # llmxai's own Adam follows torch.optim.Adam's trajectory exactly, and avoids the seconds that
        # importing torch.optim's compiler machinery costs on first use.
        optimizer = Adam(model.parameters(), lr=1e-3 if lr is None else lr)
    generator = seeded_generator(seed)
    if eval_every is None and (kind == "callable" or epochs is None):
        eval_every = max(1, steps // 10)

    history = History()
    started = time.perf_counter()
    total = steps
    if kind == "tensors" and epochs is not None:
        per_epoch = math.ceil(train[0].shape[0] / batch_size)
        total = per_epoch * epochs if steps is None else min(steps, per_epoch * epochs)
    bar = tqdm(total=total, disable=not progress, desc="training", leave=False)
    postfix = {}

    def evaluate():
        was_training = model.training
        model.eval()
        with torch.no_grad():
            value = float(eval_fn(model))
        model.train(was_training)
        history.eval_steps.append(history.steps)
        history.metric.append(value)
        postfix["metric"] = f"{value:.4f}"
        bar.set_postfix(postfix, refresh=False)
        if target is not None and value >= target:
            history.reached_target = True
        return history.reached_target

    def one_step(batch):
        model.train()
        batch = _to_device(batch, device)
        optimizer.zero_grad()
        loss = loss_fn(model, batch)
        if not (isinstance(loss, torch.Tensor) and loss.dim() == 0):
            raise TypeError(f"loss_fn: expected a scalar tensor, got {loss!r:.80}")
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {history.steps}; try a smaller lr")
        loss.backward()
        if clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        history.steps += 1
        history.step_loss.append(loss.item())
        postfix["loss"] = f"{history.step_loss[-1]:.4f}"
        bar.set_postfix(postfix, refresh=False)
        bar.update(1)
        if callback is not None:
            callback(model, history)
        return eval_fn is not None and eval_every is not None and history.steps % eval_every == 0 and evaluate()

    done = False
    try:
        if kind == "callable":
            while not done and history.steps < steps:
                done = one_step(train(history.steps))
        else:
            while not done and (epochs is None or history.epochs < epochs):
                first = history.steps
                for batch in _batches(kind, train, batch_size, generator, shuffle):
                    if one_step(batch):
                        done = True
                        break
                    if steps is not None and history.steps >= steps:
                        done = True
                        break
                if history.steps == first:
                    raise ValueError("train: the iterable gave no batches in an epoch")
                history.epochs += 1
                history.epoch_loss.append(sum(history.step_loss[first:]) / (history.steps - first))
                if eval_fn is not None and eval_every is None and not history.reached_target and evaluate():
                    done = True
        if eval_fn is not None and (not history.eval_steps or history.eval_steps[-1] != history.steps):
            evaluate()
    finally:
        bar.close()
    model.eval()
    history.seconds = time.perf_counter() - started
    return history
