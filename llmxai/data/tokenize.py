"""Character- and word-level tokenizers with special tokens, and batch padding.

A tokenizer is a fixed list of symbols; a symbol's id is its position in that list. The
four special tokens come first, so their ids are the same for every tokenizer:
``<pad>`` = 0, ``<unk>`` = 1, ``<bos>`` = 2, ``<eos>`` = 3.

Out-of-vocabulary symbols are encoded as ``<unk>``. Decoding shows ``<unk>`` as the
text ``"<unk>"`` even when special tokens are skipped, so a lost symbol stays visible
instead of vanishing; ``decode(encode(text)) == text`` therefore holds exactly when every
symbol of ``text`` is in the vocabulary (for :class:`WordTokenizer`: after collapsing runs
of whitespace to one space).
"""

from collections import Counter

import torch

from llmxai import validate

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)


class Tokenizer:
    """Shared machinery: symbol <-> id tables, encode, decode. Subclasses say how text splits."""

    kind = None
    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID
    _str_is_symbols = False  # a str is a sequence of characters, but not a list of words

    def __init__(self, symbols):
        if isinstance(symbols, str) and not self._str_is_symbols:
            raise TypeError(
                f"symbols: expected an iterable of {self._what()}, got a str; "
                f"use {type(self).__name__}.from_corpus([text]) to build from text"
            )
        symbols = list(symbols)
        seen = set()
        for s in symbols:
            if s in SPECIAL_TOKENS:
                raise ValueError(
                    f"symbols: expected ordinary symbols (the special tokens {SPECIAL_TOKENS} are added "
                    f"automatically), got {s!r}"
                )
            self._check_symbol(s)
            if s in seen:
                raise ValueError(f"symbols: expected distinct symbols, got {s!r} twice")
            seen.add(s)
        self.symbols = tuple(symbols)
        self.id_to_token = SPECIAL_TOKENS + self.symbols
        self.token_to_id = {t: i for i, t in enumerate(self.id_to_token)}

    @classmethod
    def from_corpus(cls, texts, *, min_count=1, max_size=None):
        """Build the vocabulary from ``texts`` (a str or a list of str).

        Symbols seen at least ``min_count`` times are kept; with ``max_size`` only the
        most frequent (ties broken alphabetically). The kept symbols are sorted, so the
        ids do not depend on the order of the corpus.
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}]: expected a str, got {type(t).__name__}")
        validate.positive_int(min_count, "min_count")
        if max_size is not None:
            validate.positive_int(max_size, "max_size")
        counts = Counter(s for t in texts for s in cls._split(t) if s not in SPECIAL_TOKENS)
        kept = sorted((s for s, c in counts.items() if c >= min_count), key=lambda s: (-counts[s], s))
        if max_size is not None:
            kept = kept[:max_size]
        return cls(sorted(kept))

    @property
    def vocab_size(self):
        return len(self.id_to_token)

    def __len__(self):
        return self.vocab_size

    def __eq__(self, other):
        return type(self) is type(other) and self.symbols == other.symbols

    def __hash__(self):
        return hash((type(self).__name__, self.symbols))

    def __repr__(self):
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"

    def to_config(self):
        """A JSON-serialisable description; :func:`tokenizer_from_config` rebuilds it."""
        return {"kind": self.kind, "symbols": list(self.symbols)}

    def split(self, text):
        """The symbols of ``text``, before lookup."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        return self._split(text)

    def encode(self, text, add_bos=False, add_eos=False):
        """Ids of ``text`` (a list of int); unknown symbols become ``<unk>`` (id 1)."""
        ids = [self.token_to_id.get(s, UNK_ID) for s in self.split(text)]
        return [BOS_ID] * validate.flag(add_bos, "add_bos") + ids + [EOS_ID] * validate.flag(add_eos, "add_eos")

    def encode_batch(self, texts, add_bos=False, add_eos=False):
        """Encode and pad several texts: ``(ids (B, T) long, lengths (B,) long)``."""
        if isinstance(texts, str):
            raise TypeError("texts: expected a list of str, got a single str; use encode() for one text")
        return pad_batch([self.encode(t, add_bos, add_eos) for t in texts], pad_id=PAD_ID)

    def tokens(self, ids):
        """The symbol of each id, specials included (for labelling plots)."""
        return [self.id_to_token[i] for i in self._check_ids(ids)]

    def decode(self, ids, skip_special=True):
        """Text of ``ids`` (list of int or 1-D tensor).

        ``skip_special`` drops ``<pad>``, ``<bos>`` and ``<eos>``; ``<unk>`` is always
        shown, so a decoded text never silently loses a symbol.
        """
        skip = {PAD_ID, BOS_ID, EOS_ID} if validate.flag(skip_special, "skip_special") else set()
        return self._join([self.id_to_token[i] for i in self._check_ids(ids) if i not in skip])

    def _check_ids(self, ids):
        return validate.id_list(ids, self.vocab_size)

    @classmethod
    def _what(cls):
        raise NotImplementedError

    @staticmethod
    def _split(text):
        raise NotImplementedError

    @staticmethod
    def _join(symbols):
        raise NotImplementedError

    def _check_symbol(self, s):
        raise NotImplementedError


class CharTokenizer(Tokenizer):
    """One id per character; ``decode(encode(s)) == s`` for any ``s`` over the vocabulary.

    ``CharTokenizer("abc")`` takes the characters of a string as its symbols.
    """

    kind = "char"
    _str_is_symbols = True

    @classmethod
    def _what(cls):
        return "single characters"

    @staticmethod
    def _split(text):
        return list(text)

    @staticmethod
    def _join(symbols):
        return "".join(symbols)

    def _check_symbol(self, s):
        if not isinstance(s, str) or len(s) != 1:
            raise ValueError(f"symbols: expected single characters, got {s!r}")


class WordTokenizer(Tokenizer):
    """One id per whitespace-separated word; decoding joins words with single spaces.

    Punctuation is not split off: generators in :mod:`llmxai.data` write it as separate
    words (``"good ."``), so that every id is one word a reader can point at.
    """

    kind = "word"

    @classmethod
    def _what(cls):
        return "words"

    @staticmethod
    def _split(text):
        return text.split()

    @staticmethod
    def _join(symbols):
        return " ".join(symbols)

    def _check_symbol(self, s):
        if not isinstance(s, str) or not s or s.split() != [s]:
            raise ValueError(f"symbols: expected non-empty words without whitespace, got {s!r}")


def tokenizer_from_config(config):
    """Rebuild a tokenizer from :meth:`Tokenizer.to_config`."""
    if not isinstance(config, dict) or "kind" not in config or "symbols" not in config:
        raise ValueError(f"config: expected a dict with 'kind' and 'symbols', got {config!r:.80}")
    kinds = {"char": CharTokenizer, "word": WordTokenizer}
    validate.choice(config["kind"], "config['kind']", kinds)
    return kinds[config["kind"]](config["symbols"])


def pad_batch(sequences, pad_id=PAD_ID):
    """Right-pad id sequences into ``(ids (B, T) long, lengths (B,) long)``, ``T`` the longest.

    ``sequences`` is a list of lists of int or of 1-D integer tensors; each must hold at
    least one id (an empty sequence has nothing for a model to read).
    """
    if isinstance(sequences, torch.Tensor) or not isinstance(sequences, (list, tuple)):
        raise TypeError(f"sequences: expected a list of id lists, got {type(sequences).__name__}")
    if not sequences:
        raise ValueError("sequences: expected at least one sequence, got an empty list")
    if isinstance(pad_id, bool) or not isinstance(pad_id, int):
        raise TypeError(f"pad_id: expected an int, got {type(pad_id).__name__}")
    rows = []
    for b, seq in enumerate(sequences):
        if isinstance(seq, torch.Tensor):
            validate.tensor(seq, f"sequences[{b}]", ndim=1, floating=False)
            seq = seq.tolist()
        elif not isinstance(seq, (list, tuple)):
            raise TypeError(f"sequences[{b}]: expected a list of int, got {type(seq).__name__}")
        if not seq:
            raise ValueError(f"sequences[{b}]: expected at least one id, got an empty sequence")
        if any(isinstance(i, bool) or not isinstance(i, int) for i in seq):
            raise TypeError(f"sequences[{b}]: expected int ids, got {[type(i).__name__ for i in seq][:5]}")
        rows.append(seq)
    T = max(len(r) for r in rows)
    ids = torch.tensor([list(r) + [pad_id] * (T - len(r)) for r in rows], dtype=torch.long)  # (B, T)
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)  # (B,)
    return ids, lengths
