"""Task generators and tokenizers: everything generated or shipped, nothing downloaded."""

from llmxai.data.agreement import AgreementData, AgreementSplit, agreement_dataset
from llmxai.data.corpus import (
    Corpus,
    corpus_tokenizer,
    corpus_vocabulary,
    generate_sentences,
    is_grammatical,
    language_corpus,
    next_token_windows,
)
from llmxai.data.dates import (
    DATE_FORMATS,
    TARGET_FIELDS,
    DateData,
    DateExample,
    DateSplit,
    date_dataset,
    date_tokenizer,
    encode_dates,
    field_spans,
    format_date,
    generate_dates,
    ordinal,
)
from llmxai.data.images import ImageData, ImageSplit, digits_dataset
from llmxai.data.induction import (induction_masks, next_token_batch, repeated_segments, repeated_tokens,
                                   segment_masks)
from llmxai.data.sentiment import (
    LABELS,
    SentimentData,
    SentimentExample,
    SentimentSplit,
    WORD_ROLES,
    encode_sentiment,
    generate_sentiment,
    sentiment_dataset,
    sentiment_tokenizer,
    sentiment_vocabulary,
    word_role,
)
from llmxai.data.tokenize import (
    BOS,
    BOS_ID,
    EOS,
    EOS_ID,
    PAD,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK,
    UNK_ID,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    pad_batch,
    tokenizer_from_config,
)

__all__ = [
    "BOS", "BOS_ID", "EOS", "EOS_ID", "PAD", "PAD_ID", "SPECIAL_TOKENS", "UNK", "UNK_ID",
    "CharTokenizer", "Tokenizer", "WordTokenizer", "pad_batch", "tokenizer_from_config",
    "LABELS", "SentimentData", "SentimentExample", "SentimentSplit", "encode_sentiment",
    "generate_sentiment", "sentiment_dataset", "sentiment_tokenizer", "sentiment_vocabulary",
    "WORD_ROLES", "word_role",
    "DATE_FORMATS", "DateData", "DateExample", "DateSplit", "date_dataset", "date_tokenizer",
    "encode_dates", "field_spans", "format_date", "generate_dates", "ordinal", "TARGET_FIELDS",
    "induction_masks", "next_token_batch", "repeated_segments", "repeated_tokens", "segment_masks",
    "Corpus", "corpus_tokenizer", "corpus_vocabulary", "generate_sentences", "is_grammatical", "language_corpus",
    "next_token_windows",
    "ImageData", "ImageSplit", "digits_dataset",
    "AgreementData", "AgreementSplit", "agreement_dataset",
]
