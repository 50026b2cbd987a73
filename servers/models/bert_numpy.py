"""A BERT encoder in numpy, for sentence-embedding models shipped as safetensors.

Why numpy: the platform must embed offline with no deep-learning runtime in the
server; a 6-layer, 384-wide encoder is a handful of float32 matrix products, which
numpy hands to its BLAS. The forward pass is the one Hugging Face's ``BertModel``
computes (post-LayerNorm blocks, exact erf GELU), followed by sentence-transformers'
mean pooling over the attention mask and L2 normalisation.

Everything here is read-only after construction, so one encoder serves concurrent
calls without locks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

DTYPE = np.float32
# Added to attention scores of padding keys: softmax gives them exactly zero weight.
MASKED_SCORE = np.finfo(DTYPE).min
# Sentence-transformers clamps the token count (mean pooling) and the norm (normalisation) with these.
POOL_EPS = 1e-9
NORM_EPS = 1e-12
# Rows of the feed-forward block processed at once: keeps the 4x-wide intermediate in cache.
FFN_ROW_BLOCK = 128
# |x| at which GELU's normal tail erfc(|x|/sqrt 2)/2 (about 1e-19 here) no longer changes a float32 result.
GELU_TAIL_CLIP = 9.0

# Abramowitz & Stegun 7.1.26: erf to 1.5e-7 absolute error, below float32 resolution of GELU's output.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_SQRT_HALF = 1.0 / math.sqrt(2.0)
_HALF_ERF_A = tuple(a / 2 for a in _ERF_A)


@dataclass(frozen=True)
class BertConfig:
    """The subset of a Hugging Face ``config.json`` the forward pass needs."""

    hidden_size: int
    num_heads: int
    num_layers: int
    intermediate_size: int
    max_positions: int
    layer_norm_eps: float

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        raw = json.loads(path.read_text())
        if raw.get("hidden_act", "gelu") != "gelu" or raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: only absolute positions and erf GELU are implemented")
        return cls(
            hidden_size=raw["hidden_size"],
            num_heads=raw["num_attention_heads"],
            num_layers=raw["num_hidden_layers"],
            intermediate_size=raw["intermediate_size"],
            max_positions=raw["max_position_embeddings"],
            layer_norm_eps=raw["layer_norm_eps"],
        )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass(frozen=True)
class _Layer:
    """One encoder block, weights laid out for ``x @ w`` (transposed once at load)."""

    w_qkv: np.ndarray  # [H, 3H]; the query third is pre-scaled by 1/sqrt(head_dim)
    b_qkv: np.ndarray
    w_attn_out: np.ndarray
    b_attn_out: np.ndarray
    ln_attn: tuple[np.ndarray, np.ndarray]
    w_ffn_in: np.ndarray
    b_ffn_in: np.ndarray
    w_ffn_out: np.ndarray
    b_ffn_out: np.ndarray
    ln_ffn: tuple[np.ndarray, np.ndarray]


def gelu_inplace(x: np.ndarray) -> None:
    """Exact (erf) GELU in place, as BERT's ``hidden_act="gelu"``.

    GELU(x) = x * Phi(x). With r = erfc(|x| / sqrt 2) / 2 (the normal tail beyond |x|),
    Phi(x) = 1 - r for x >= 0 and r for x < 0, so GELU(x) = x / 2 + |x| * (1/2 - r): no sign
    branches, which numpy would run far slower than plain arithmetic.
    """
    a = np.abs(x)
    # Beyond the clip the tail is below float32 resolution; clipping keeps exp() out of
    # subnormal results, which x86 processes many times slower than normal floats.
    tail = np.minimum(a, GELU_TAIL_CLIP)
    tail *= tail
    tail *= -0.5
    np.exp(tail, out=tail)  # exp(-x^2 / 2)
    t = np.multiply(a, _ERF_P * _SQRT_HALF)
    t += 1.0
    np.divide(1.0, t, out=t)
    poly = np.multiply(t, _HALF_ERF_A[-1])
    for coefficient in reversed(_HALF_ERF_A[:-1]):
        poly += coefficient
        poly *= t
    poly *= tail  # r
    np.subtract(0.5, poly, out=poly)
    poly *= a
    x *= 0.5
    x += poly


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis (float32 throughout, like the reference)."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    centred *= 1.0 / np.sqrt(var + eps)
    centred *= weight
    centred += bias
    return centred


class BertEncoder:
    """Weights plus ``forward(ids, mask) -> unit vectors``; immutable, thread-safe."""

    def __init__(self, model_dir: Path) -> None:
        self.config = cfg = BertConfig.from_file(model_dir / "config.json")
        w = load_file(str(model_dir / "model.safetensors"))
        w = {k.removeprefix("bert."): v.astype(DTYPE, copy=False) for k, v in w.items()}

        def ln(prefix: str) -> tuple[np.ndarray, np.ndarray]:
            return w[f"{prefix}.LayerNorm.weight"], w[f"{prefix}.LayerNorm.bias"]

        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        # Single-segment input: every token has token type 0.
        self.token_type0 = w["embeddings.token_type_embeddings.weight"][0]
        self.ln_embed = ln("embeddings")
        scale = DTYPE(1.0 / math.sqrt(cfg.head_dim))
        layers = []
        for i in range(cfg.num_layers):
            p = f"encoder.layer.{i}"
            att = f"{p}.attention.self"
            w_qkv = np.concatenate([w[f"{att}.query.weight"] * scale, w[f"{att}.key.weight"], w[f"{att}.value.weight"]])
            b_qkv = np.concatenate([w[f"{att}.query.bias"] * scale, w[f"{att}.key.bias"], w[f"{att}.value.bias"]])
            layers.append(
                _Layer(
                    w_qkv=np.ascontiguousarray(w_qkv.T),
                    b_qkv=b_qkv,
                    w_attn_out=np.ascontiguousarray(w[f"{p}.attention.output.dense.weight"].T),
                    b_attn_out=w[f"{p}.attention.output.dense.bias"],
                    ln_attn=ln(f"{p}.attention.output"),
                    w_ffn_in=np.ascontiguousarray(w[f"{p}.intermediate.dense.weight"].T),
                    b_ffn_in=w[f"{p}.intermediate.dense.bias"],
                    w_ffn_out=np.ascontiguousarray(w[f"{p}.output.dense.weight"].T),
                    b_ffn_out=w[f"{p}.output.dense.bias"],
                    ln_ffn=ln(f"{p}.output"),
                )
            )
        self.layers = tuple(layers)

    @property
    def dimension(self) -> int:
        return self.config.hidden_size

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token ids and 0/1 mask, both [batch, seq] → L2-normalised mean-pooled vectors [batch, hidden]."""
        cfg = self.config
        batch, seq = ids.shape
        if seq > cfg.max_positions:
            raise ValueError(f"sequence of {seq} tokens exceeds the model's {cfg.max_positions} positions")
        maskf = mask.astype(DTYPE, copy=False)
        x = self.word[ids]
        x += self.position[:seq]
        x += self.token_type0
        x = layer_norm(x, *self.ln_embed, cfg.layer_norm_eps).reshape(batch * seq, cfg.hidden_size)
        # [batch, 1, 1, seq]: broadcast over heads and query positions.
        key_bias = ((1.0 - maskf) * MASKED_SCORE)[:, None, None, :]
        for layer in self.layers:
            x = self._block(x, key_bias, layer, batch, seq)
        x = x.reshape(batch, seq, cfg.hidden_size)
        pooled = np.matmul(maskf[:, None, :], x)[:, 0, :]
        pooled /= np.maximum(maskf.sum(axis=1, keepdims=True), POOL_EPS)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), NORM_EPS)
        return pooled

    def _block(self, x: np.ndarray, key_bias: np.ndarray, layer: _Layer, batch: int, seq: int) -> np.ndarray:
        cfg = self.config
        heads, head_dim, eps = cfg.num_heads, cfg.head_dim, cfg.layer_norm_eps
        qkv = x @ layer.w_qkv
        qkv += layer.b_qkv
        # [3, batch, heads, seq, head_dim] as strided views; matmul hands each matrix to BLAS.
        qkv = qkv.reshape(batch, seq, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = q @ k.transpose(0, 1, 3, 2)
        scores += key_bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * seq, cfg.hidden_size)
        attn = context @ layer.w_attn_out
        attn += layer.b_attn_out
        attn += x
        h = layer_norm(attn, *layer.ln_attn, eps)
        out = np.empty_like(h)
        for start in range(0, h.shape[0], FFN_ROW_BLOCK):
            rows = slice(start, start + FFN_ROW_BLOCK)
            inner = h[rows] @ layer.w_ffn_in
            inner += layer.b_ffn_in
            gelu_inplace(inner)
            np.matmul(inner, layer.w_ffn_out, out=out[rows])
        out += layer.b_ffn_out
        out += h
        return layer_norm(out, *layer.ln_ffn, eps)
