"""The shared tiny models: shipped trained weights, retraining, and the user's cache.

``pretrained(name)`` loads the weights that ship inside the package (``llmxai/weights/``),
so every reader, on any CPU or GPU, explains the very same model. Each shipped model is a
safetensors file and a manifest ``NAME.json`` with the file's sha256, the recipe's name,
version and config, and the metrics it reached; a file whose checksum differs, or that
holds a non-finite number, is refused.

Training from scratch goes into the user's cache (``$LLMXAI_CACHE``, else
``$XDG_CACHE_HOME/llmxai``, else ``~/.cache/llmxai``): ``pretrained(name, retrain=True)``,
``llmxai train NAME``, and every call while ``LLMXAI_SEED_OFFSET`` is set (a run with
shifted seeds must train its own models, or it would test nothing). Cache files are
written atomically under a lock, checked like shipped ones when read, and a cache that
cannot be written only costs a warning.
"""

import contextlib
import hashlib
import json
import os
import pathlib
import re
import tempfile
import time
import warnings

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from llmxai.device import get_device, seed_everything, seed_offset
from llmxai.recipes import RECIPES, Recipe

CACHE_ENV = "LLMXAI_CACHE"
WEIGHTS_DIR = pathlib.Path(__file__).resolve().parent / "weights"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_VERSION = re.compile(r"[A-Za-z0-9_.]+")  # no '-', so a file name splits back into name, version, digest
_REGISTRY = dict(RECIPES)


class WeightsError(ValueError):
    """A weights file that must not be used: damaged bytes, a wrong checksum or non-finite values."""


# --- the registry ---------------------------------------------------------------------------

def register_pretrained(name, *, version, build, config=None, description=""):
    """Decorator registering ``train(model, config, device) -> metrics`` as the recipe for ``name``.

    For recipes of your own: ``build(**config)`` makes the untrained model, the decorated
    function trains it in place and returns a dict of metrics (numbers, or lists and
    str-keyed dicts of numbers, such as a training history). ``config`` must be
    JSON-serialisable. Such a recipe has no shipped weights: its first call trains it into
    the cache, keyed by name, version and config, so changing ``version`` retrains.
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
    """Remove a recipe of your own (tests use it to clean up after themselves)."""
    if name in RECIPES:
        raise ValueError(f"name: expected a recipe registered with register_pretrained, got the shipped {name!r}")
    _REGISTRY.pop(name, None)


def known_pretrained():
    """Names of every registered recipe, sorted."""
    return sorted(_REGISTRY)


def _recipe(name):
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    if name not in _REGISTRY:
        raise ValueError(f"pretrained: unknown model {name!r}; known models are {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def _config_digest(config):
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


# --- files ------------------------------------------------------------------------------------

def cache_dir():
    """``$LLMXAI_CACHE``, else ``$XDG_CACHE_HOME/llmxai``, else ``~/.cache/llmxai``."""
    if os.environ.get(CACHE_ENV):
        return pathlib.Path(os.environ[CACHE_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return pathlib.Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "llmxai"
    return pathlib.Path.home() / ".cache" / "llmxai"


def cache_path(name):
    """Where weights trained here for recipe ``name`` (current version, config and seed offset) are kept."""
    r = _recipe(name)
    return cache_dir() / f"{name}-v{r.version}-{_config_digest(r.config)}-s{seed_offset()}.safetensors"


def shipped_path(name):
    """The weights file that ships in the package for ``name`` (it may not exist for recipes of your own)."""
    _recipe(name)
    return WEIGHTS_DIR / f"{name}.safetensors"


def _tensors_digest(tensors):
    """sha256 over every tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for k in sorted(tensors):
        t = tensors[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _check_tensors(tensors, where):
    for k, t in tensors.items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise WeightsError(f"{where}: expected finite weights, got non-finite values in {k!r}")


def _read(path, where):
    """The tensors and metadata of a safetensors file, refusing a damaged one."""
    try:
        data = path.read_bytes()
        tensors = load_safetensors(data)
        with open(path, "rb") as f:  # the header: 8-byte length, then JSON with __metadata__
            n = int.from_bytes(f.read(8), "little")
            meta = json.loads(f.read(n)).get("__metadata__", {})
    except (OSError, SafetensorError, ValueError, UnicodeDecodeError) as err:
        raise WeightsError(f"{where}: expected a readable safetensors file at {path}, got {type(err).__name__}: {err}")
    return data, tensors, meta


def _write_atomic(path, data):
    """Write bytes to a temporary file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _lock(path):
    """An exclusive lock on ``path.lock`` (POSIX), so two processes never write the same cached model at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; atomic renames still keep every file whole
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path.with_name(path.name + ".lock"), "a+b")
    except OSError as err:  # an unwritable cache: go on, and say so
        warnings.warn(f"could not lock the cache {path.parent} ({err}); writing {path.name} without a lock",
                      stacklevel=4)
        yield
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --- metrics ----------------------------------------------------------------------------------

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


# --- training and loading ---------------------------------------------------------------------

def _build(r):
    seed_everything(0)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)  # the recipes train in float32, whatever a chapter set as default
    try:
        model = r.build(**r.config)
    finally:
        torch.set_default_dtype(before)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"recipe {r.name!r}: build must return a torch.nn.Module, got {type(model).__name__}")
    return model.cpu()


def _train(r):
    """Build and train recipe ``r`` on the CPU; return (model, metrics, state dict)."""
    model = _build(r)
    seed_everything(0)
    metrics = _check_metrics(r.train(model, dict(r.config), torch.device("cpu")), r.name)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    _check_tensors(state, f"recipe {r.name!r} trained")
    return model, metrics, state


def _header(r, metrics, state):
    return {"name": r.name, "version": r.version, "config": json.dumps(r.config, sort_keys=True),
            "metrics": json.dumps(metrics, sort_keys=True), "seed_offset": str(seed_offset()),
            "tensors_sha256": _tensors_digest(state)}


def _load_cache(r, path):
    """(state, metrics) from a cache file, or None after a warning if the file is damaged or stale."""
    try:
        _, state, meta = _read(path, f"cache of {r.name!r}")
        if meta.get("version") != r.version or meta.get("config") != json.dumps(r.config, sort_keys=True):
            raise WeightsError(f"cache of {r.name!r}: expected recipe version {r.version} and its config, "
                               f"got version {meta.get('version')!r}")
        if meta.get("tensors_sha256") != _tensors_digest(state):
            raise WeightsError(f"cache of {r.name!r}: expected tensors matching their sha256, got different bytes")
        _check_tensors(state, f"cache of {r.name!r}")
        return state, json.loads(meta["metrics"])
    except (WeightsError, KeyError, json.JSONDecodeError) as err:
        warnings.warn(f"pretrained {r.name!r}: not using {path} ({err}); training again", stacklevel=3)
        return None


def _save_cache(r, path, metrics, state):
    """Save to the cache; a cache that cannot be written gives a warning, not a lost model."""
    try:
        _write_atomic(path, save_safetensors(state, metadata=_header(r, metrics, state)))
        return True
    except OSError as err:
        warnings.warn(f"pretrained {r.name!r}: could not write the cache {path} ({err}); "
                      f"returning the trained model uncached", stacklevel=3)
        return False


def load_shipped(name):
    """``(state_dict, manifest)`` of the weights shipped for ``name``, checked against its manifest.

    Raises :class:`WeightsError` (a ``ValueError``) when the file's sha256 differs from the
    manifest or a tensor is not finite. Whether the manifest still matches the recipe is
    :func:`shipped_is_current`.
    """
    _recipe(name)
    path = shipped_path(name)
    manifest_path = path.with_suffix(".json")
    if not path.exists() or not manifest_path.exists():
        raise WeightsError(f"pretrained {name!r}: expected shipped weights at {path}, found none")
    manifest = json.loads(manifest_path.read_text())
    data, state, _ = _read(path, f"shipped weights of {name!r}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest.get("sha256"):
        raise WeightsError(f"shipped weights of {name!r}: expected sha256 {manifest.get('sha256')}, got {digest} "
                           f"({path} is damaged; reinstall llmxai)")
    _check_tensors(state, f"shipped weights of {name!r}")
    return state, manifest


def shipped_is_current(name):
    """Whether the shipped manifest of ``name`` was written by the recipe's current version and config."""
    r = _recipe(name)
    manifest_path = shipped_path(name).with_suffix(".json")
    if not manifest_path.exists():
        return False
    manifest = json.loads(manifest_path.read_text())
    return manifest.get("version") == r.version and manifest.get("config") == json.loads(json.dumps(r.config))


def pretrained(name, *, retrain=False, device=None, return_info=False):
    """The trained model ``name``, in eval mode on ``device`` (default :func:`llmxai.get_device`).

    By default the weights shipped in the package: no training, the same model everywhere.
    ``retrain=True`` trains from scratch into the cache (on the CPU, seeded, in seconds).
    While ``LLMXAI_SEED_OFFSET`` is set, the model is trained with the shifted seeds the
    first time and then loaded from the cache. Recipes of your own, which ship nothing,
    do the same, and so does a recipe edited since its weights were shipped (with a
    warning). With ``return_info`` the result is ``(model, info)``: name, version,
    config, metrics, path, ``source`` (``"shipped"``, ``"cache"`` or ``"trained"``) and
    ``trained`` (whether this call trained it).
    """
    r = _recipe(name)
    if not isinstance(retrain, bool):
        raise TypeError(f"retrain: expected True or False, got {retrain!r}")
    if not isinstance(return_info, bool):
        raise TypeError(f"return_info: expected True or False, got {return_info!r}")
    device = get_device(device)
    use_shipped = not retrain and seed_offset() == 0 and name in RECIPES
    if use_shipped and not shipped_is_current(name):
        warnings.warn(f"pretrained {name!r}: the shipped weights were trained by another version or config of "
                      f"the recipe; training into the cache instead (`llmxai train {name} --ship` refreshes "
                      f"the shipped weights)", stacklevel=2)
        use_shipped = False
    if use_shipped:
        state, manifest = load_shipped(name)
        path, metrics, source = shipped_path(name), manifest["metrics"], "shipped"
    else:
        path = cache_path(name)
        with _lock(path):
            loaded = None if retrain or not path.exists() else _load_cache(r, path)
            if loaded is None:
                _, metrics, state = _train(r)
                _save_cache(r, path, metrics, state)
                source = "trained"
            else:
                (state, metrics), source = loaded, "cache"
    model = _build(r)
    model.load_state_dict(state)
    model.to(device).eval()
    if not return_info:
        return model
    return model, {"name": name, "version": r.version, "config": json.loads(json.dumps(r.config)),
                   "metrics": metrics, "path": str(path), "source": source, "trained": source == "trained"}


def ship(name):
    """Train ``name`` from scratch and write it into the package's weights folder with its manifest.

    For maintainers, after changing a recipe; the tests refuse weights whose manifest no
    longer matches the recipe. Seeds are never shifted for shipped weights.
    """
    r = _recipe(name)
    if name not in RECIPES:
        raise ValueError(f"name: expected a recipe of llmxai.recipes to ship, got {name!r}")
    if seed_offset() != 0:
        raise ValueError(f"LLMXAI_SEED_OFFSET: expected it unset to ship weights, got {seed_offset()}")
    started = time.perf_counter()
    _, metrics, state = _train(r)
    data = save_safetensors(state, metadata=_header(r, metrics, state))
    path = shipped_path(name)
    _write_atomic(path, data)
    manifest = {"name": name, "recipe": f"llmxai.recipes.{name}", "version": r.version, "config": r.config,
                "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                "metrics": metrics}
    _write_atomic(path.with_suffix(".json"), (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    return {"name": name, "path": str(path), "bytes": len(data), "seconds": time.perf_counter() - started}


def clear_cache(name=None):
    """Delete cached weights of ``name`` (all versions and offsets), or of every model, with leftover
    temporary and lock files; return the files removed."""
    folder = cache_dir()
    if not folder.exists():
        return []
    prefix = r"[A-Za-z0-9_-]+" if name is None else re.escape(_recipe(name).name)
    mine = re.compile(prefix + r"-v[A-Za-z0-9_.]+-[0-9a-f]{12}-s\d+\.safetensors(\.[^/]*\.tmp|\.lock)?")
    removed = sorted(p for p in folder.iterdir() if mine.fullmatch(p.name))
    for p in removed:
        p.unlink(missing_ok=True)
    return removed

