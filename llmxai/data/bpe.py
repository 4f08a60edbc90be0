"""Byte-level byte-pair encoding (BPE): the tokenizer of GPT-2 and of most open language models.

BPE (Sennrich, Haddow and Birch 2016, ACL, arXiv:1508.07909) starts from single symbols
and applies a ranked list of learned merges, best first, until no ranked pair is left.
Byte-level BPE (Radford et al. 2019, GPT-2 report, sec. 2.2) runs it on the UTF-8 bytes
of the text, each byte spelled as one printable character, so every text has an encoding
and no token is unknown. Before merging, the text is cut into pieces by regular
expressions (words with their leading space, numbers, punctuation, whitespace), and merges
never cross a piece. Special tokens such as ``<|im_start|>`` are matched whole first.

Everything the tokenizer needs (the tokens, the merges, which tokens are special) is data:
:func:`llmxai.smollm2.load_smollm2` reads it from the model's GGUF file.
"""

try:
    import regex  # Unicode classes such as \p{L} and \p{N}, which the standard re lacks
except ImportError:  # pragma: no cover - an install without the llm extra
    regex = None

import torch

from llmxai import validate

# GPT-2's pattern: contractions, letters, numbers, other symbols, each with at most one leading
# space; whitespace before a non-space is left for that word's leading space.
GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
# The splits a GGUF's ``tokenizer.ggml.pre`` names, applied in turn (as llama.cpp does). SmolLM2's
# tokenizer first isolates every digit, then splits as GPT-2.
PRE_TOKENIZERS = {"gpt2": (GPT2_SPLIT,), "smollm": (r"\p{N}", GPT2_SPLIT)}


def bytes_to_unicode():
    """GPT-2's spelling of the 256 bytes as printable characters: ``{byte: character}``.

    Printable Latin-1 bytes stand for themselves; the others (controls, space, ...) are
    moved to code points from 256 on, in order: the space byte 32 becomes ``Ġ`` (U+0120).
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    spelling, extra = {}, 0
    for b in range(256):
        if b in keep:
            spelling[b] = chr(b)
        else:
            spelling[b] = chr(256 + extra)
            extra += 1
    return spelling


class ByteLevelBPE:
    """Byte-level BPE from a vocabulary (``tokens[i]`` spelled with :func:`bytes_to_unicode`) and ranked merges.

    ``merges`` are ``"a b"`` strings, best first. ``special`` lists ids of tokens matched
    whole in the text (control tokens). ``pre_tokenizer`` names the splits of
    :data:`PRE_TOKENIZERS`. ``encode(text)`` gives the ids, ``decode(ids)`` the text.
    A byte whose character is not in the vocabulary (SmolLM2 lacks a few, never seen in
    training: six control characters and bytes that UTF-8 uses rarely or never) is dropped,
    as ``transformers`` and llama.cpp do; for every other text ``decode(encode(text)) == text``.
    """

    def __init__(self, tokens, merges, *, special=(), bos_id=None, eos_id=None, pre_tokenizer="gpt2"):
        if regex is None:
            raise ImportError("ByteLevelBPE: expected the 'regex' package, found none; "
                              "install it with: pip install 'llmxai[llm]'")
        tokens, merges = list(tokens), list(merges)
        if not tokens or not all(isinstance(t, str) for t in tokens):
            raise TypeError("tokens: expected a non-empty list of str")
        validate.choice(pre_tokenizer, "pre_tokenizer", set(PRE_TOKENIZERS))
        self.id_to_token = tokens
        self.token_to_id = {t: i for i, t in enumerate(tokens)}
        if len(self.token_to_id) != len(tokens):
            raise ValueError("tokens: expected distinct tokens, got duplicates")
        self.vocab_size = len(tokens)
        spelling = bytes_to_unicode()
        self._byte_char = [spelling[b] for b in range(256)]
        self._char_byte = {c: b for b, c in spelling.items()}
        self.ranks = {}
        for rank, m in enumerate(merges):
            pair = tuple(m.split(" "))
            if len(pair) != 2:
                raise ValueError(f"merges: expected 'a b' (two symbols and one space), got {m!r} at rank {rank}")
            self.ranks.setdefault(pair, rank)
        self.special_ids = sorted({self._check_id(i, "special") for i in special})
        self._special_set = frozenset(self.special_ids)
        self.bos_id = None if bos_id is None else self._check_id(bos_id, "bos_id")
        self.eos_id = None if eos_id is None else self._check_id(eos_id, "eos_id")
        self.pre_tokenizer = pre_tokenizer
        self._splits = [regex.compile(p) for p in PRE_TOKENIZERS[pre_tokenizer]]
        longest_first = sorted((tokens[i] for i in self.special_ids), key=len, reverse=True)
        self._special = regex.compile("|".join(map(regex.escape, longest_first))) if longest_first else None
        self._piece_ids = {}  # piece -> ids: text repeats its words

    def _check_id(self, i, name):
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self.id_to_token):
            raise ValueError(f"{name}: expected token ids in [0, {len(self.id_to_token)}), got {i!r}")
        return i

    def __len__(self):
        return self.vocab_size

    def __repr__(self):
        return (f"ByteLevelBPE(vocab_size={self.vocab_size}, merges={len(self.ranks)}, "
                f"pre_tokenizer={self.pre_tokenizer!r})")

    def pieces(self, text):
        """The pre-tokenised pieces of ``text``: special tokens whole, the rest cut by the splits in turn."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        out = []
        for part, is_special in self._special_parts(text):
            if is_special:
                out.append(part)
                continue
            parts = [part]
            for pattern in self._splits:
                parts = [p for q in parts for p in _split(pattern, q)]
            out.extend(parts)
        return out

    def _special_parts(self, text):
        """``[(part, is_special)]``: the text cut at each special token."""
        if self._special is None:
            return [(text, False)] if text else []
        parts, start = [], 0
        for m in self._special.finditer(text):
            if m.start() > start:
                parts.append((text[start:m.start()], False))
            parts.append((m.group(), True))
            start = m.end()
        if start < len(text):
            parts.append((text[start:], False))
        return parts

    def bpe(self, piece):
        """The tokens of one piece: its bytes' characters, merged by rank until no ranked pair is left."""
        word = [self._byte_char[b] for b in piece.encode("utf-8")]
        while len(word) > 1:
            pair = min(zip(word, word[1:]), key=lambda p: self.ranks.get(p, len(self.ranks)))
            if pair not in self.ranks:
                break
            a, b = pair
            merged, i = [], 0
            while i < len(word):  # merge every occurrence, left to right
                if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return word

    def encode(self, text, add_bos=False, add_eos=False):
        """Ids of ``text`` (a list of int): special tokens whole, every other piece by :meth:`bpe`."""
        add_bos, add_eos = validate.flag(add_bos, "add_bos"), validate.flag(add_eos, "add_eos")
        for flag, name in ((add_bos, "bos_id"), (add_eos, "eos_id")):
            if flag and getattr(self, name) is None:
                raise ValueError(f"add_{name[:3]}: this tokenizer has no {name}")
        ids = [self.bos_id] if add_bos else []
        for piece in self.pieces(text):
            known = self.token_to_id.get(piece)
            if known in self._special_set:
                ids.append(known)
                continue
            if piece not in self._piece_ids:
                if len(self._piece_ids) > 100_000:
                    self._piece_ids.clear()
                self._piece_ids[piece] = self._lookup(self.bpe(piece))
            ids.extend(self._piece_ids[piece])
        return ids + ([self.eos_id] if add_eos else [])

    def _lookup(self, symbols):
        ids = []
        for s in symbols:
            if s in self.token_to_id:
                ids.append(self.token_to_id[s])
            else:  # only a byte without a token gets here: dropped, as transformers and llama.cpp do
                ids.extend(self.token_to_id[c] for c in s if c in self.token_to_id)
        return ids

    def decode(self, ids, skip_special=True):
        """Text of ``ids`` (list of int or 1-D tensor); ``skip_special`` drops the special tokens.

        Bytes that do not form valid UTF-8 (a character cut between tokens) show as U+FFFD.
        """
        skip = self._special_set if validate.flag(skip_special, "skip_special") else frozenset()
        return b"".join(self._bytes(i) for i in self._check_ids(ids) if i not in skip).decode("utf-8", "replace")

    def tokens(self, ids):
        """The text of each token on its own (for labelling plots); a partial character shows as ``\\xNN``."""
        return [self._bytes(i).decode("utf-8", "backslashreplace") for i in self._check_ids(ids)]

    def _bytes(self, i):
        token = self.id_to_token[i]
        if i in self._special_set or not all(c in self._char_byte for c in token):
            return token.encode("utf-8")
        return bytes(self._char_byte[c] for c in token)

    def _check_ids(self, ids):
        return validate.id_list(ids, self.vocab_size)


def _split(pattern, text):
    """``text`` cut into the matches of ``pattern`` and the gaps between them, in order, none empty."""
    out, start = [], 0
    for m in pattern.finditer(text):
        if m.start() > start:
            out.append(text[start:m.start()])
        if m.end() > m.start():
            out.append(m.group())
        start = m.end()
    if start < len(text):
        out.append(text[start:])
    return out
