"""The one training loop, evaluation helpers, and cached pretrained models.

``fit`` trains any model on batches that are tuples ``(inputs..., target)``; the default
loss is cross-entropy of ``model(*inputs)`` against ``target``. ``pretrained(name)``
returns a named tiny model, training it the first time by its registered recipe and
loading it from the user's cache directory afterwards.
"""

import hashlib
import importlib
import importlib.util
import json
import math
import os
import pathlib
import re
import tempfile
import time
import warnings
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


def _eval_batches(model, data, batch_size, device):
    """Yield the batches of ``data = (inputs..., target)`` on ``device``, with ``model`` in eval mode and no gradients."""
    kind, _ = _check_data(data)
    if kind != "tensors":
        raise TypeError(f"data: expected a tuple of tensors (inputs..., target), got {type(data).__name__}")
    validate.positive_int(batch_size, "batch_size")
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in _batches("tensors", tuple(data), batch_size, None, shuffle=False):
                yield _to_device(batch, device)
    finally:
        model.train(was_training)


def _batched_outputs(model, data, batch_size, device):
    """Yield ``(model(*inputs), target)`` over ``data = (inputs..., target)`` without gradients."""
    for *inputs, target in _eval_batches(model, data, batch_size, device):
        yield model(*inputs), target


def accuracy(model, data, *, batch_size=256, device=None):
    """Fraction of correct argmax predictions on ``data = (inputs..., target)``.

    Works for classifiers (``(B, C)`` logits, ``(B,)`` targets) and per-token predictions
    (``(B, T, V)`` logits, ``(B, T)`` targets, entries ``-100`` skipped).
    """
    correct, counted = 0, 0
    for logits, target in _batched_outputs(model, data, batch_size, device):
        keep = target != IGNORE_INDEX
        correct += int(((logits.argmax(-1) == target) & keep).sum())
        counted += int(keep.sum())
    if counted == 0:
        raise ValueError("data: expected at least one target that is not -100, got none")
    return correct / counted


def mean_loss(model, data, *, loss_fn=None, batch_size=256, device=None):
    """Loss on ``data = (inputs..., target)``, averaged over batches weighted by their size."""
    loss_fn = cross_entropy_loss if loss_fn is None else loss_fn
    total, n = 0.0, 0
    for batch in _eval_batches(model, data, batch_size, device):
        total += float(loss_fn(model, batch)) * batch[0].shape[0]
        n += batch[0].shape[0]
    return total / n


# --- pretrained models -----------------------------------------------------------------

CACHE_ENV = "LLMXAI_CACHE"
RECIPE_MODULE = "llmxai.recipes"  # imported on first use; its recipes register themselves
_REGISTRY = {}
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_VERSION = re.compile(r"[A-Za-z0-9_.]+")  # no '-', so a file name splits back into name, version, digest


@dataclass(frozen=True)
class Recipe:
    name: str
    version: str
    build: object
    config: dict
    train: object
    description: str


def cache_dir():
    """``$LLMXAI_CACHE``, else ``$XDG_CACHE_HOME/llmxai``, else ``~/.cache/llmxai``."""
    if os.environ.get(CACHE_ENV):
        return pathlib.Path(os.environ[CACHE_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return pathlib.Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "llmxai"
    return pathlib.Path.home() / ".cache" / "llmxai"


def register_pretrained(name, *, version, build, config=None, description=""):
    """Decorator registering ``train(model, config, device) -> metrics`` as the recipe for ``name``.

    ``build(**config)`` makes the untrained model (seeded, so its initial weights repeat);
    the decorated function trains it in place and returns a dict of metrics (numbers, or
    lists and str-keyed dicts of numbers, such as a training history).
    ``config`` must be JSON-serialisable. Change ``version`` whenever the recipe changes
    what it trains: the cache is keyed by name, version and config, so stale weights are
    never loaded.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"name: expected letters, digits, '-' or '_' (a file name), got {name!r}")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise ValueError(f"version: expected a str of letters, digits, '.' or '_' (e.g. '1'), got {version!r}")
    if not callable(build):
        raise TypeError(f"build: expected a callable **config -> model, got {type(build).__name__}")
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise TypeError(f"config: expected a dict, got {type(config).__name__}")
    try:
        json.dumps(config, sort_keys=True)
    except TypeError as err:
        raise TypeError(f"config: expected JSON-serialisable values ({err})") from None

    def decorator(train):
        if not callable(train):
            raise TypeError(f"recipe: expected a callable, got {type(train).__name__}")
        _REGISTRY[name] = Recipe(name, version, build, dict(config), train, description)
        return train

    return decorator


def unregister_pretrained(name):
    """Remove a recipe (tests use it to clean up after themselves)."""
    _REGISTRY.pop(name, None)


def _load_recipes():
    if importlib.util.find_spec(RECIPE_MODULE) is not None:
        importlib.import_module(RECIPE_MODULE)


def known_pretrained():
    """Names of every registered recipe, sorted."""
    _load_recipes()
    return sorted(_REGISTRY)


def _recipe(name):
    _load_recipes()
    if name not in _REGISTRY:
        raise ValueError(f"pretrained: unknown model {name!r}; known models are {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def cache_path(name):
    """Where the weights of recipe ``name`` at its current version and config are kept."""
    r = _recipe(name)
    digest = hashlib.sha256(json.dumps(r.config, sort_keys=True).encode()).hexdigest()[:12]
    return cache_dir() / f"{name}-v{r.version}-{digest}.pt"


def _clean_metric(v, where, name):
    """A number, or a list / str-keyed dict of them (nested), as plain floats for JSON."""
    if isinstance(v, torch.Tensor):
        v = v.item() if v.numel() == 1 else v.tolist()
    if isinstance(v, (list, tuple)):
        return [_clean_metric(x, f"{where}[{i}]", name) for i, x in enumerate(v)]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise TypeError(f"recipe {name!r}: expected str metric names, got {where}: {k!r}")
            out[k] = _clean_metric(x, f"{where}[{k!r}]", name)
        return out
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"recipe {name!r}: expected metrics str -> number (or lists/dicts of numbers, such as a "
                        f"training history), got {where}: {v!r:.40}")
    return float(v)


def _check_metrics(metrics, name):
    if not isinstance(metrics, dict):
        raise TypeError(f"recipe {name!r}: expected a dict of metrics, got {type(metrics).__name__}")
    return _clean_metric(metrics, "metrics", name)


def _save_atomic(payload, path):
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def pretrained(name, *, retrain=False, device=None, return_info=False):
    """The trained model ``name`` (in eval mode), trained once and then loaded from the cache.

    The first call (or ``retrain=True``) seeds everything, builds the model, runs its recipe
    and saves ``state_dict``, config and metrics to :func:`cache_path`; later calls load
    that file. With ``return_info`` the result is ``(model, info)``, where ``info`` holds
    the name, version, config, metrics, path and whether this call trained the model.

    Training always runs on the CPU, whatever ``device`` says: the models are small enough
    for that, and it makes the weights (and so every number the book prints about them)
    the same on every machine. ``device`` is where the returned model lives.
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    r = _recipe(name)
    device = get_device(device)
    cpu = torch.device("cpu")
    path = cache_path(name)
    seed_everything(0)
    model = r.build(**r.config)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"recipe {name!r}: build must return a torch.nn.Module, got {type(model).__name__}")
    model.to(cpu)
    payload = None
    if path.exists() and not retrain:
        try:
            payload = torch.load(path, map_location=cpu, weights_only=True)
            model.load_state_dict(payload["state_dict"])
        except Exception as err:  # a corrupt or mismatched file is a stale cache: train again
            warnings.warn(f"pretrained {name!r}: could not load {path} ({err}); training again", stacklevel=2)
            payload = None
            seed_everything(0)
            model = r.build(**r.config).to(cpu)
    trained = payload is None
    if trained:
        seed_everything(0)
        metrics = _check_metrics(r.train(model, dict(r.config), cpu), name)
        payload = {
            "name": name,
            "version": r.version,
            "config": json.dumps(r.config, sort_keys=True),
            "metrics": json.dumps(metrics, sort_keys=True),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        }
        _save_atomic(payload, path)
    model.to(device).eval()
    if not return_info:
        return model
    info = {
        "name": name,
        "version": r.version,
        "config": json.loads(payload["config"]),
        "metrics": json.loads(payload["metrics"]),
        "path": str(path),
        "trained": trained,
    }
    return model, info


def clear_cache(name=None):
    """Delete the cached weights of ``name`` (all versions), or of every model; return the files removed."""
    folder = cache_dir()
    if not folder.exists():
        return []
    if name is None:
        mine = re.compile(r"[A-Za-z0-9_-]+-v[A-Za-z0-9_.]+-[0-9a-f]{12}\.pt")
    else:
        mine = re.compile(re.escape(_recipe(name).name) + r"-v[A-Za-z0-9_.]+-[0-9a-f]{12}\.pt")
    removed = sorted(p for p in folder.iterdir() if mine.fullmatch(p.name))
    for p in removed:
        p.unlink()
    return removed
