"""Where every parameter of a language model lives in its one flat float64 vector, and the records
the model kernels take (``LMConfig``, ``LMBuffers``).

Layout. Blocks follow each other in this order, decayed blocks first (matrices and embeddings, what
nanoGPT's ``configure_optimizers`` decays), then the others (biases, LayerNorm gains and shifts), so
weight decay applies to the prefix ``params[:n_decay]``. Matrices are stored row-major as
``[inputs, outputs]`` (``y = x @ W``): torch's ``nn.Linear.weight`` is the transpose.

=========  ==================================================================================
bigram     table [V, V] (row = current token, column = next token's logit)
mlp        emb [V, E], w_hidden [k·E, H], w_out [H, V] | b_hidden [H], b_out [V]
gpt        wte [V, C], wpe [block_size, C], then for each layer l: h{l}.attn.w_qkv [C, 3C],
           h{l}.attn.w_proj [C, C], h{l}.mlp.w_fc [C, 4C], h{l}.mlp.w_proj [4C, C]
           | for each layer: h{l}.ln_1.g [C], h{l}.ln_1.b [C], h{l}.attn.b_qkv [3C],
           h{l}.attn.b_proj [C], h{l}.ln_2.g [C], h{l}.ln_2.b [C], h{l}.mlp.b_fc [4C],
           h{l}.mlp.b_proj [C]; then ln_f.g [C], ln_f.b [C]
=========  ==================================================================================

(``|`` marks where decay stops.) The kernels find blocks through ``off``, an int64 array
``[n_layer + 1, 16]``: row l < n_layer holds layer l's offsets at the column constants below, the
last row the model's own (``WTE``..., or ``EMB``..., or ``TABLE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._jit import inline_kernel

BIGRAM, MLP, GPT = 0, 1, 2
KINDS = {"bigram": BIGRAM, "mlp": MLP, "gpt": GPT}

# columns of off[l] (a gpt layer)
W_QKV, W_PROJ, W_FC, W_FC2, LN1_G, LN1_B, B_QKV, B_PROJ, LN2_G, LN2_B, B_FC, B_FC2 = range(12)
# columns of off[-1] (the model's own blocks)
WTE, WPE, LNF_G, LNF_B = range(4)  # gpt
EMB, W_HID, W_OUT, B_HID, B_OUT = range(5)  # mlp
TABLE = 0  # bigram
OFF_COLS = 16


class LMConfig(NamedTuple):
    """The sizes a model kernel needs (unused ones 0 or 1)."""

    kind: int  # BIGRAM, MLP or GPT
    V: int  # vocabulary size
    C: int  # gpt: d_model; mlp: embedding width
    L: int  # gpt: layers (mlp, bigram: 0)
    NH: int  # gpt: heads
    block: int  # positions a gpt can see (rows of wpe); windows are at most this long
    residual: int  # gpt: 1 with residual connections, 0 without
    context: int  # mlp: previous tokens it sees (k)
    hidden: int  # mlp: hidden width (H)
    dropout: float  # gpt: dropout probability on the embedding and each residual branch


class LMBuffers(NamedTuple):
    """Activations (kept for the backward pass) and scratch, for up to N = B·T rows. Arrays a model
    kind does not use have a zero dimension. Per-layer arrays lead with the layer index."""

    resid: np.ndarray  # [L + 1, N, C] residual stream entering each layer (last: leaving the last)
    ln1: np.ndarray  # [L, N, C]
    ln1_stats: np.ndarray  # [L, 2, N] mean, rstd
    qkv: np.ndarray  # [L, N, 3C]
    att: np.ndarray  # [L, NH·T·T·B] attention probabilities [h, t, j, b]
    atty: np.ndarray  # [L, N, C] attention output, heads concatenated
    res2: np.ndarray  # [L, N, C] residual stream after attention
    ln2: np.ndarray  # [L, N, C]
    ln2_stats: np.ndarray  # [L, 2, N]
    fch: np.ndarray  # [L, N, 4C] MLP pre-activation
    fcg: np.ndarray  # [L, N, 4C] GELU output
    fct: np.ndarray  # [L, N, 4C] tanh inside the GELU
    masks: np.ndarray  # [L + 1, 2, N, C] dropout multipliers (0 or 1/(1 − p)) [layer, branch]; [L, 0] the embedding
    lnf: np.ndarray  # [N, C]
    lnf_stats: np.ndarray  # [2, N]
    x: np.ndarray  # [N, k·E] mlp: concatenated context embeddings
    ctx: np.ndarray  # [N, k] int64 mlp: the context's token ids
    h: np.ndarray  # [N, H] mlp: tanh hidden layer
    probs: np.ndarray  # [N, V] logits, then probabilities, then (backward) dlogits
    branch: np.ndarray  # [N, C] scratch: a residual branch's output
    d1: np.ndarray  # [N, max(C, k·E)] gradient scratch
    d2: np.ndarray  # [N, max(C, H)] gradient scratch
    dres: np.ndarray  # [N, C] gradient of the residual stream
    dqkv: np.ndarray  # [N, 3C]
    dfc: np.ndarray  # [N, 4C]
    xt: np.ndarray  # [T, 3C, B] attention's q, k, v with the windows as vector lanes
    dxt: np.ndarray  # [T, 3C, B] their gradients
    ot: np.ndarray  # [T, C, B] attention output (forward) or its gradient (backward) in lanes
    dst: np.ndarray  # [T·T·B] attention backward's ds of one head
    lanes: np.ndarray  # [3, B] per-window scalars (max, sum, an accumulator)
    hb: np.ndarray  # [8·T·C + T·T] per-head matrices of the BLAS attention path


@dataclass(frozen=True)
class Block:
    """One parameter tensor in the flat vector."""

    name: str
    shape: tuple[int, ...]
    offset: int
    decay: bool  # weight decay applies (matrices and embeddings)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "offset": self.offset, "decay": self.decay}


def _blocks(entries) -> tuple[tuple[Block, ...], int]:
    """Blocks at consecutive offsets from (name, shape, decay) entries; returns (blocks, total size)."""
    out, o = [], 0
    for name, shape, decay in entries:
        b = Block(name, tuple(int(s) for s in shape), o, decay)
        out.append(b)
        o += b.size
    return tuple(out), o


def layout(cfg: LMConfig) -> tuple[tuple[Block, ...], np.ndarray]:
    """(blocks in vector order, the kernels' offset table ``off``) for a configuration."""
    V, C, L = cfg.V, cfg.C, cfg.L
    off = np.zeros((L + 1, OFF_COLS), dtype=np.int64)
    if cfg.kind == BIGRAM:
        blocks, _ = _blocks([("table", (V, V), True)])
        off[-1, TABLE] = 0
        return blocks, off
    if cfg.kind == MLP:
        k, E, H = cfg.context, cfg.C, cfg.hidden
        blocks, _ = _blocks([("emb", (V, E), True), ("w_hidden", (k * E, H), True), ("w_out", (H, V), True),
                             ("b_hidden", (H,), False), ("b_out", (V,), False)])
        for col, b in zip((EMB, W_HID, W_OUT, B_HID, B_OUT), blocks):
            off[-1, col] = b.offset
        return blocks, off
    entries = [("wte", (V, C), True), ("wpe", (cfg.block, C), True)]
    mats = [("attn.w_qkv", (C, 3 * C), W_QKV), ("attn.w_proj", (C, C), W_PROJ), ("mlp.w_fc", (C, 4 * C), W_FC),
            ("mlp.w_proj", (4 * C, C), W_FC2)]
    vecs = [("ln_1.g", C, LN1_G), ("ln_1.b", C, LN1_B), ("attn.b_qkv", 3 * C, B_QKV), ("attn.b_proj", C, B_PROJ),
            ("ln_2.g", C, LN2_G), ("ln_2.b", C, LN2_B), ("mlp.b_fc", 4 * C, B_FC), ("mlp.b_proj", C, B_FC2)]
    cols = []
    for l in range(L):
        for name, shape, col in mats:
            entries.append((f"h{l}.{name}", shape, True))
            cols.append((l, col))
    for l in range(L):
        for name, n, col in vecs:
            entries.append((f"h{l}.{name}", (n,), False))
            cols.append((l, col))
    entries += [("ln_f.g", (C,), False), ("ln_f.b", (C,), False)]
    blocks, _ = _blocks(entries)
    off[L, WTE], off[L, WPE] = blocks[0].offset, blocks[1].offset
    for (l, col), b in zip(cols, blocks[2:]):
        off[l, col] = b.offset
    off[L, LNF_G], off[L, LNF_B] = blocks[-2].offset, blocks[-1].offset
    return blocks, off


def new_buffers(cfg: LMConfig, B: int, T: int, dropout: bool = False) -> LMBuffers:
    """Buffers for B windows of up to T positions (``dropout``: room for training masks)."""
    N = B * T
    z = np.zeros
    if cfg.kind == GPT:
        L, C = cfg.L, cfg.C
        lay = (L, N)
        return LMBuffers(
            resid=z((L + 1, N, C)), ln1=z(lay + (C,)), ln1_stats=z((L, 2, N)), qkv=z(lay + (3 * C,)),
            att=z((L, B * cfg.NH * T * T)), atty=z(lay + (C,)), res2=z(lay + (C,)), ln2=z(lay + (C,)),
            ln2_stats=z((L, 2, N)), fch=z(lay + (4 * C,)), fcg=z(lay + (4 * C,)), fct=z(lay + (4 * C,)),
            masks=z((L + 1, 2, N if dropout else 0, C)), lnf=z((N, C)), lnf_stats=z((2, N)),
            x=z((0, 0)), ctx=z((0, 0), dtype=np.int64), h=z((0, 0)), probs=z((N, cfg.V)), branch=z((N, C)), d1=z((N, C)), d2=z((N, C)),
            dres=z((N, C)), dqkv=z((N, 3 * C)), dfc=z((N, 4 * C)), xt=z((T, 3 * C, B)), dxt=z((T, 3 * C, B)),
            ot=z((T, C, B)), dst=z(T * T * B), lanes=z((3, B)),
            hb=z(8 * T * C + T * T))
    none3, none2 = z((0, 0, 0)), z((0, 0))
    kE, H = cfg.context * cfg.C, cfg.hidden
    mlp = cfg.kind == MLP
    return LMBuffers(
        resid=none3, ln1=none3, ln1_stats=none3, qkv=none3, att=none2, atty=none3, res2=none3, ln2=none3,
        ln2_stats=none3, fch=none3, fcg=none3, fct=none3, masks=z((0, 0, 0, 0)), lnf=none2, lnf_stats=none2,
        x=z((N, kE)) if mlp else none2, ctx=z((N, cfg.context) if mlp else (0, 0), dtype=np.int64),
        h=z((N, H)) if mlp else none2, probs=z((N, cfg.V)), branch=none2,
        d1=z((N, kE)) if mlp else none2, d2=z((N, H)) if mlp else none2, dres=none2, dqkv=none2, dfc=none2,
        xt=none3, dxt=none3, ot=none3, dst=z(0), lanes=none2, hb=z(0))


# -- views of the flat vector inside kernels -----------------------------------------------------
@inline_kernel
def mat(params, o, rows, cols):
    """The [rows, cols] block at offset o (a view)."""
    return params[o:o + rows * cols].reshape((rows, cols))


@inline_kernel
def vec(params, o, n):
    """The n-vector at offset o (a view)."""
    return params[o:o + n]


def step_flops(cfg: LMConfig, n_params: int, B: int, T: int) -> float:
    """Floating-point operations of one training step (forward + backward): 6 per parameter and
    position for the matrices, plus the causal attention products (2·T²/2·C per layer each way,
    ×3 with the backward) and the elementwise work (~40 per activation)."""
    N = B * T
    f = 6.0 * n_params * N
    if cfg.kind == GPT:
        f += cfg.L * (3 * 2 * 2 * B * T * T / 2 * cfg.C + 40.0 * N * 12 * cfg.C)
    return f
