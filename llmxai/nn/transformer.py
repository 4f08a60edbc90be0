"""Pre-LN Transformer block, an encoder classifier and a decoder-only language model (a tiny GPT).

Vaswani et al. 2017, "Attention Is All You Need" (NeurIPS, arXiv:1706.03762) for the block;
the normalisation placed before each sub-layer follows Xiong et al. 2020, "On Layer
Normalization in the Transformer Architecture" (ICML, arXiv:2002.04745); the decoder-only LM
with learned positions and a final LayerNorm follows Radford et al. 2019, "Language Models
are Unsupervised Multitask Learners" (GPT-2, OpenAI report).
"""

import torch
from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint
from llmxai.nn.attention import masked_softmax
from llmxai.nn.layers import FeedForward, LayerNorm
from llmxai.nn.mha import MultiHeadAttention


def _checked_lengths(E, lengths):
    """Validate embeddings ``E (B, T, d_model)`` and ``lengths (B,)`` in [1, T]; default lengths to T."""
    validate.tensor(E, "E", ndim=3, floating=True)
    B, T = E.shape[:2]
    if lengths is None:
        return torch.full((B,), T, device=E.device)
    return validate.lengths(lengths, B, T)


class TransformerBlock(nn.Module):
    """``x_mid = x + Attn(LN_1(x))``, ``x_out = x_mid + FFN(LN_2(x_mid))`` (Xiong et al. 2020, fig. 1b).

    With ``mlp=False`` the block is attention only (``x_out = x + Attn(LN_1(x))``) and has
    no ``ln2``, ``mlp``, ``hook_resid_mid`` or ``hook_mlp_out``. Hook points:
    ``hook_resid_pre``, ``hook_attn_out``, ``hook_resid_mid``, ``hook_mlp_out``,
    ``hook_resid_post``, all ``(B, T, d_model)``, plus those inside ``attn``.
    """

    def __init__(self, d_model, n_heads, d_ff, activation="relu", mlp=True, eps=1e-5):
        super().__init__()
        validate.flag(mlp, "mlp")
        # Modules are assigned in forward order so that hook_names() lists them that way.
        self.hook_resid_pre = HookPoint()
        self.ln1 = LayerNorm(d_model, eps)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.hook_attn_out = HookPoint()
        if mlp:
            self.hook_resid_mid = HookPoint()
            self.ln2 = LayerNorm(d_model, eps)
            self.mlp = FeedForward(d_model, d_ff, activation)
            self.hook_mlp_out = HookPoint()
        self.hook_resid_post = HookPoint()

    @classmethod
    def from_torch(cls, layer):
        """Copy an ``nn.TransformerEncoderLayer(norm_first=True)`` with ReLU or GELU."""
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise TypeError(f"layer: expected nn.TransformerEncoderLayer, got {type(layer).__name__}")
        if not layer.norm_first or layer.activation_relu_or_gelu not in (1, 2):
            raise ValueError(
                f"layer: expected norm_first=True and activation relu or gelu, got norm_first={layer.norm_first}, "
                f"activation={layer.activation}"
            )
        if layer.linear1.bias is None:
            raise ValueError("layer: expected bias=True")
        attn = layer.self_attn
        activation = "relu" if layer.activation_relu_or_gelu == 1 else "gelu"
        block = cls(attn.embed_dim, attn.num_heads, layer.linear1.out_features, activation)
        block.attn = MultiHeadAttention.from_torch(attn)
        block.ln1, block.ln2 = LayerNorm.from_torch(layer.norm1), LayerNorm.from_torch(layer.norm2)
        block.mlp = block.mlp.to(layer.linear1.weight.device, layer.linear1.weight.dtype)
        block.mlp.linear1.load_state_dict(layer.linear1.state_dict())
        block.mlp.linear2.load_state_dict(layer.linear2.state_dict())
        return block

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):  # src: (B, T, d_model)
        """Same call as ``nn.TransformerEncoderLayer`` (batch first); masks as in :class:`MultiHeadAttention`."""
        validate.tensor(src, "src", ndim=3, floating=True)
        x = self.hook_resid_pre(src)
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, key_padding_mask=src_key_padding_mask, attn_mask=src_mask,
                         need_weights=False, is_causal=is_causal)
        x = x + self.hook_attn_out(a)  # (B, T, d_model)
        if hasattr(self, "mlp"):
            x = self.hook_resid_mid(x)
            x = x + self.hook_mlp_out(self.mlp(self.ln2(x)))  # (B, T, d_model)
        return self.hook_resid_post(x)


class _Stack(nn.Module):
    """Token and learned position embeddings, a stack of pre-LN blocks and a final LayerNorm."""

    def __init__(self, vocab_size, d_model, n_heads, n_layers, d_ff, max_len, activation, mlp):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("d_model", d_model), ("n_layers", n_layers), ("max_len", max_len)):
            validate.positive_int(v, name)
        self.vocab_size, self.d_model, self.max_len = vocab_size, d_model, max_len
        self.tok_embed = nn.Embedding(vocab_size, d_model)
        self.hook_embed = HookPoint()
        self.pos_embed = nn.Embedding(max_len, d_model)
        # Small embeddings as in GPT-2: the residual stream starts near zero scale.
        nn.init.normal_(self.tok_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed.weight, std=0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, n_heads, d_ff, activation, mlp) for _ in range(n_layers)
        )
        self.ln_f = LayerNorm(d_model)

    def embed(self, ids):
        """Token embeddings ``E = W_E[ids]`` (positions are added in ``forward_embedded``)."""
        validate.token_ids(ids, "ids", self.vocab_size)
        self._check_length(ids.shape[1])
        return self.hook_embed(self.tok_embed(ids))  # (B, T, d_model)

    def _run(self, E, key_padding_mask=None, is_causal=False):
        validate.tensor(E, "E", ndim=3, floating=True)
        validate.features(E, self.d_model, self.ln_f.weight.dtype, "E")
        self._check_length(E.shape[1])
        x = E + self.pos_embed.weight[: E.shape[1]]  # (B, T, d_model)
        for block in self.blocks:
            x = block(x, src_key_padding_mask=key_padding_mask, is_causal=is_causal)
        return self.ln_f(x)  # (B, T, d_model)

    def _check_length(self, T):
        if T > self.max_len:
            raise ValueError(f"sequence length: expected at most max_len={self.max_len}, got {T}")
        if T == 0:
            raise ValueError("sequence length: expected at least one position, got 0")


class TransformerClassifier(_Stack):
    """Encoder classifier: pre-LN blocks, ``ln_f``, mean over real tokens, then ``head``.

    ``logits = head(mean_{t < length} ln_f(x_L)_t)``; padding (id 0, at the end) is blocked
    as a key and left out of the mean. ``hook_pooled`` marks the ``(B, d_model)`` mean.
    """

    def __init__(self, vocab_size, n_classes, d_model=64, n_heads=4, n_layers=2, d_ff=128, max_len=64,
                 activation="relu"):
        super().__init__(vocab_size, d_model, n_heads, n_layers, d_ff, max_len, activation, True)
        validate.positive_int(n_classes, "n_classes", minimum=2)
        self.hook_pooled = HookPoint()
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, ids, lengths=None):
        """Logits ``(B, n_classes)`` for ids ``(B, T)``; lengths default to the non-padding count."""
        E = self.embed(ids)
        return self.forward_embedded(E, self.lengths(ids) if lengths is None else lengths)

    @staticmethod
    def lengths(ids):
        """Number of real tokens per row, checking that padding (id 0) comes only at the end.

        Part of the model contract: a model whose forward reads lengths off the padding
        exposes them, so that perturbation methods can replace tokens (even by the padding
        id) without shortening the sequence.
        """
        return validate.padded_lengths(ids)

    def forward_embedded(self, E, lengths=None):
        """Logits from token embeddings ``E (B, T, d_model)`` and optional ``lengths (B,)``."""
        lengths = _checked_lengths(E, lengths)
        B, T = E.shape[:2]
        blocked = torch.arange(T, device=E.device) >= lengths[:, None]  # (B, T), True on padding
        h = self._run(E, key_padding_mask=blocked)  # (B, T, d_model)
        keep = (~blocked).to(h.dtype)[..., None]  # (B, T, 1)
        pooled = self.hook_pooled((h * keep).sum(dim=1) / lengths[:, None].to(h.dtype))  # (B, d_model)
        return self.head(pooled)  # (B, n_classes)


class GPT(_Stack):
    """Decoder-only language model: ``logits = unembed(ln_f(blocks(W_E[ids] + W_pos)))`` with a causal mask.

    Trained by next-token prediction (Radford et al. 2019). ``mlp=False`` gives the
    attention-only model used to study induction heads.
    """

    def __init__(self, vocab_size, d_model=64, n_heads=4, n_layers=2, d_ff=256, max_len=128, mlp=True,
                 activation="gelu"):
        super().__init__(vocab_size, d_model, n_heads, n_layers, d_ff, max_len, activation, mlp)
        self.unembed = nn.Linear(d_model, vocab_size)

    def forward(self, ids):
        """Next-token logits ``(B, T, vocab_size)`` for ids ``(B, T)``."""
        return self.forward_embedded(self.embed(ids))

    def forward_embedded(self, E):
        """Logits from token embeddings ``E (B, T, d_model)``; position t sees tokens 0..t only."""
        return self.unembed(self._run(E, is_causal=True))  # (B, T, vocab_size)

    @torch.no_grad()
    def generate(self, ids, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        """Append ``max_new_tokens`` sampled tokens to ``ids (B, T)``; returns ``(B, T + max_new_tokens)``.

        Each step samples from ``softmax(logits / temperature)`` over the last position,
        restricted to the ``top_k`` most likely tokens if given; ``temperature=0`` is greedy.
        The context is cut to the last ``max_len`` tokens.
        """
        validate.token_ids(ids, "ids", self.vocab_size)
        validate.positive_int(max_new_tokens, "max_new_tokens", minimum=0)
        temperature = validate.number(temperature, "temperature", minimum=0)
        if top_k is not None:
            validate.positive_int(top_k, "top_k")
            top_k = min(top_k, self.vocab_size)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
        for _ in range(max_new_tokens):
            logits = self(ids[:, -self.max_len:])[:, -1]  # (B, vocab_size)
            if temperature == 0:
                nxt = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                nxt = torch.multinomial(masked_softmax(logits), 1, generator=generator)  # (B, 1)
            ids = torch.cat([ids, nxt.to(ids.dtype)], dim=1)
        return ids


class GPTClassifier(_Stack):
    """Decoder-only classifier: ``logits = head(ln_f(x_L)_{length - 1})``, read at the last real token.

    Fine-tuning a pretrained language model for classification in the manner of Radford et al.
    2018 ("Improving Language Understanding by Generative Pre-Training", OpenAI report): the
    causal mask lets only the last token read the whole sequence, so its final state feeds a new
    linear ``head``. :meth:`from_lm` copies a trained :class:`GPT` (everything but ``unembed``).
    Padding (id 0) must come after the real tokens; under the causal mask no real token sees it.
    ``hook_pooled`` marks the ``(B, d_model)`` state the head reads.
    """

    def __init__(self, vocab_size, n_classes, d_model=64, n_heads=4, n_layers=2, d_ff=256, max_len=128, mlp=True,
                 activation="gelu"):
        super().__init__(vocab_size, d_model, n_heads, n_layers, d_ff, max_len, activation, mlp)
        validate.positive_int(n_classes, "n_classes", minimum=2)
        self.hook_pooled = HookPoint()
        self.head = nn.Linear(d_model, n_classes)

    @classmethod
    def from_lm(cls, lm, n_classes):
        """A classifier with ``lm``'s embeddings, blocks and final norm (copied) and a fresh ``head``."""
        if not isinstance(lm, GPT):
            raise TypeError(f"lm: expected a llmxai.nn.GPT, got {type(lm).__name__}")
        block = lm.blocks[0]
        mlp = hasattr(block, "mlp")
        model = cls(lm.vocab_size, n_classes, lm.d_model, block.attn.n_heads, len(lm.blocks),
                    block.mlp.linear1.out_features if mlp else 1, lm.max_len, mlp,
                    block.mlp.activation if mlp else "gelu")
        weight = lm.unembed.weight
        model.to(weight.device, weight.dtype)
        state = {k: v for k, v in lm.state_dict().items() if not k.startswith("unembed.")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or sorted(missing) != ["head.bias", "head.weight"]:
            raise RuntimeError(f"from_lm: expected to copy everything but the head, missed {missing}, "
                               f"left over {unexpected}")
        return model

    def forward(self, ids, lengths=None):
        """Logits ``(B, n_classes)`` for ids ``(B, T)``; lengths default to the non-padding count."""
        E = self.embed(ids)
        return self.forward_embedded(E, self.lengths(ids) if lengths is None else lengths)

    lengths = staticmethod(TransformerClassifier.lengths)

    def forward_embedded(self, E, lengths=None):
        """Logits from token embeddings ``E (B, T, d_model)`` and optional ``lengths (B,)`` (default T)."""
        lengths = _checked_lengths(E, lengths)
        B, T = E.shape[:2]
        h = self._run(E, is_causal=True)  # (B, T, d_model)
        last = h[torch.arange(B, device=E.device), lengths.to(E.device) - 1]  # (B, d_model)
        return self.head(self.hook_pooled(last))  # (B, n_classes)
