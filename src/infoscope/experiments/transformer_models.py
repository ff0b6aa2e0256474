"""The Transformer networks of the reference experiments: Hugging Face classes built from
their configs (random weights; nothing is downloaded).

They need ``transformers`` (``pip install 'infoscope[transformers]'``); without it, building
one raises an ``ImportError`` that says so.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..datasets import TOKEN_HALF

__all__ = ["require_transformers", "mnist_vit", "seq_bert", "TRANSFORMER_ACTIVATIONS"]

#: Activations a Hugging Face config names (``hidden_act``).
TRANSFORMER_ACTIVATIONS = ("gelu", "relu", "tanh")


def require_transformers() -> Any:
    """The ``transformers`` module, or an ``ImportError`` saying how to install it."""
    try:
        import transformers
    except ImportError as exc:
        raise ImportError("this experiment builds a Hugging Face model and needs transformers: "
                          "pip install 'infoscope[transformers]'") from exc
    transformers.logging.set_verbosity_error()
    return transformers


def _act(activation: str) -> str:
    if activation not in TRANSFORMER_ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r} for a Transformer; choose one of: {', '.join(TRANSFORMER_ACTIVATIONS)}")
    return activation


def mnist_vit(activation: str = "gelu") -> nn.Module:
    """A small ViT for MNIST: 7×7 patches of a 28×28 image as 16 tokens and a class token,
    hidden size 64, 4 blocks of 4 heads, MLP width 128 (``ViTForImageClassification``)."""
    hf = require_transformers()
    cfg = hf.ViTConfig(image_size=28, patch_size=7, num_channels=1, hidden_size=64, num_hidden_layers=4,
                       num_attention_heads=4, intermediate_size=128, num_labels=10, hidden_act=_act(activation))
    return hf.ViTForImageClassification(cfg)


def seq_bert(activation: str = "gelu") -> nn.Module:
    """A small BERT for :func:`~infoscope.datasets.majority_tokens`: hidden size 32, 2 blocks of
    4 heads, MLP width 64, 2 classes (``BertForSequenceClassification``)."""
    hf = require_transformers()
    cfg = hf.BertConfig(vocab_size=2 + 2 * TOKEN_HALF, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=32, num_labels=2, hidden_act=_act(activation),
                        pad_token_id=0)
    return hf.BertForSequenceClassification(cfg)
