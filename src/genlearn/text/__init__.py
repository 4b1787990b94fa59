"""Text: character vocabularies and byte-level BPE, corpora, and training/generating with any
sequence model (``genlearn text train`` / ``genlearn text generate``)."""

from .app import (
    TEXT_MODELS,
    generate_text,
    iter_generate,
    load_text_model,
    train_text,
)
from .tokenizers import BPETokenizer, build_tokenizer, tokenizer_from_json
from .vocab import Vocabulary, chunk, docs_corpus, read_text, split_text

__all__ = ["TEXT_MODELS", "BPETokenizer", "Vocabulary", "build_tokenizer", "chunk",
           "docs_corpus", "generate_text", "iter_generate", "load_text_model", "read_text",
           "split_text", "tokenizer_from_json", "train_text"]
