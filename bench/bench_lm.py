"""Language models: one training step (forward + backward + AdamW) against torch, tokens per second,
the default explorer run, and the cold compile the language-model kernels add.

    python -m bench.bench_lm        (or: python -m bench lm)

The step, float64, one thread each (numba's threads, the OpenBLAS numba's ``np.dot`` calls, and
torch.set_num_threads(1)), on the same model, the same parameters and the same mini-batches:

* engine: ``engine.lm_train`` run through its public stream (``prepare_lm`` + ``LMStream``) with one
  evaluation at each end (one window each) and no samples; ms/step = its compute time / steps;
* torch: nanoGPT's module structure (``nn.Embedding``, ``nn.LayerNorm``, ``nn.Linear``,
  ``F.scaled_dot_product_attention(is_causal=True)``, ``F.gelu(approximate="tanh")``, the head tied to
  ``wte``) loaded with the engine's initial parameters, ``F.cross_entropy`` over the counted targets,
  ``clip_grad_norm_(1.0)`` and ``torch.optim.AdamW`` with nanoGPT's two parameter groups; the batches
  are tensors made before timing. Its first loss is checked against the engine's (same model).

Sizes: the explorer's default (names, gpt d_model 32, 2 layers, 4 heads, block 16, batch 32: windows of
12 tokens) and the largest the limits allow for a gpt (d_model 128, 4 layers, 4 heads, block 64, batch
16: max_lm_activations refuses batch 17), on a 16-letter Markov stream. Targets: >= 3x torch at the
default size, >= 1x at the largest; the default explorer run (``train_lm`` with the defaults) < 10 s.
Times are CPU seconds of this process (``time.process_time``; every side runs on one thread), so that
other work on the shared machine does not land in either column; medians of interleaved repeats.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    ("explorer default", {"name": "names"}, {"name": "gpt"}, 32, 40, 3.0),
    ("largest allowed", {"name": "markov", "alphabet": 16, "n_train": 100_000, "n_val": 1000},
     {"name": "gpt", "n_layer": 4, "n_head": 4, "d_model": 128, "block_size": 64}, 16, 6, 1.0),
]
REPEATS = 7


def _torch_gpt(setup):
    """nanoGPT's structure for the engine model of ``setup``, holding the engine's initial parameters."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    cfg, m = setup.model.cfg, setup.model

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            C = cfg.C
            self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
            self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T, cfg.NH, C // cfg.NH).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).contiguous().view(B, T, C)
            x = x + self.c_proj(y)
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(cfg.V, cfg.C), nn.Embedding(cfg.block, cfg.C)
            self.h = nn.ModuleList(Block() for _ in range(cfg.L))
            self.ln_f = nn.LayerNorm(cfg.C)

        def forward(self, idx, targets, w):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for blk in self.h:
                x = blk(x)
            logits = self.ln_f(x) @ self.wte.weight.T
            nll = F.cross_entropy(logits.view(-1, cfg.V), targets.view(-1), reduction="none")
            return (nll * w).sum() / w.sum()

    g = GPT().double()
    p = setup.params0
    names = {"wte": g.wte.weight, "wpe": g.wpe.weight, "ln_f.g": g.ln_f.weight, "ln_f.b": g.ln_f.bias}
    for l, blk in enumerate(g.h):
        names.update({f"h{l}.ln_1.g": blk.ln_1.weight, f"h{l}.ln_1.b": blk.ln_1.bias, f"h{l}.ln_2.g": blk.ln_2.weight,
                      f"h{l}.ln_2.b": blk.ln_2.bias, f"h{l}.attn.w_qkv": blk.c_attn.weight,
                      f"h{l}.attn.b_qkv": blk.c_attn.bias, f"h{l}.attn.w_proj": blk.c_proj.weight,
                      f"h{l}.attn.b_proj": blk.c_proj.bias, f"h{l}.mlp.w_fc": blk.c_fc.weight,
                      f"h{l}.mlp.b_fc": blk.c_fc.bias, f"h{l}.mlp.w_proj": blk.mlp_proj.weight,
                      f"h{l}.mlp.b_proj": blk.mlp_proj.bias})
    with torch.no_grad():
        for b in m.blocks:
            v = torch.tensor(p[b.offset:b.offset + b.size].reshape(b.shape))
            names[b.name].copy_(v.T if b.name.split(".")[-1].startswith("w_") else v)  # [in, out] -> torch's [out, in]
    decay = [names[b.name] for b in m.blocks if b.decay]
    plain = [names[b.name] for b in m.blocks if not b.decay]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": setup.optimizer["weight_decay"]},
                             {"params": plain, "weight_decay": 0.0}], lr=setup.optimizer["lr"],
                            betas=tuple(setup.optimizer["betas"]), eps=setup.optimizer["eps"])
    return g, opt


def _batches(setup, steps):
    import torch

    from engine.lm_train import window_length, window_starts

    c, d = setup.corpus, setup.data
    out = []
    for t in range(1, steps + 1):
        starts = window_starts(setup, t)
        T = window_length(d.need, d.stride, starts, setup.T)  # the positions the engine computes too
        idx = starts[:, None] + np.arange(T)[None, :]
        out.append((torch.tensor(c.train[idx]), torch.tensor(c.train[idx + 1]),
                    torch.tensor(c.train_weights[idx + 1].reshape(-1))))
    return out


def _request(corpus, model, batch, steps):
    return dict(corpus=corpus, model=model, batch_size=batch, steps=steps, eval_every=steps, eval_tokens=1,
                sampling={"length": 0}, schedule={"name": "constant"})


def _setup(corpus, model, batch, steps):
    from engine.limits import LIMITS
    from engine.lm_train import prepare_lm

    work = LIMITS["max_lm_work"]
    LIMITS["max_lm_work"] = 10 ** 15  # timing steps only (the default run below is an ordinary request)
    try:
        return prepare_lm(**_request(corpus, model, batch, steps))
    finally:
        LIMITS["max_lm_work"] = work


def step_case(label, corpus, model, batch, steps, target) -> dict:
    import torch

    from engine.lm_train import LMStream

    short, long_ = _setup(corpus, model, batch, steps), _setup(corpus, model, batch, 2 * steps)
    g, opt = _torch_gpt(long_)
    data = _batches(long_, steps)
    first = float(g(*data[0]).detach())

    def ours_run(setup):
        st = LMStream(setup)
        t0 = time.process_time()
        for _ in st:
            pass
        dt = time.process_time() - t0
        assert abs(st.result.batch_loss[0] - first) < 1e-9 * first, "the torch model is not the engine's model"
        return dt

    def ours():
        # a run of 2n steps minus a run of n: n steps exactly, without the fixed costs of a run (the first
        # gradient, the two evaluations, the buffers' first touch)
        return (ours_run(long_) - ours_run(short)) / steps

    def theirs():
        t0 = time.process_time()
        for x, y, w in data:
            opt.zero_grad(set_to_none=True)
            loss = g(x, y, w)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(g.parameters(), 1.0)
            opt.step()
        return (time.process_time() - t0) / steps

    ours()
    theirs()
    a, b = [], []
    for _ in range(REPEATS):
        a.append(ours())
        b.append(theirs())
    e, t = statistics.median(a), statistics.median(b)
    tokens = batch * long_.T
    return {"case": label, "model": dict(long_.model.params), "batch": batch, "T": long_.T,
            "params": long_.model.n_params, "engine_ms": e * 1e3, "torch_ms": t * 1e3, "ratio": t / e,
            "engine_tokens_s": tokens / e, "torch_tokens_s": tokens / t, "target": target, "met": t / e >= target}


def default_run() -> dict:
    from engine.lm_train import train_lm

    wall, cpu, res = [], [], None
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        res = train_lm(corpus={"name": "names"}, model={"name": "gpt"})
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    s = statistics.median(wall)
    return {"seconds": s, "cpu_seconds": statistics.median(cpu), "steps": res.steps_run, "val_loss": res.final_val_loss,
            "tokens_s": res.tokens_per_s, "met": s < 10.0}


_COLD = ("import json, time; t0 = time.perf_counter(); import engine; t1 = time.perf_counter(); "
         "from engine.warmup import warm_modules; s = {}; warm_modules(['engine.corpora', 'engine.lm_models', "
         "'engine.lm_sample', 'engine.lm_train', 'engine.lm_inspect'], s); "
         "print(json.dumps({'import_s': t1 - t0, 'modules': s}))")


def cold_compile() -> dict:
    """The language-model kernels compiled from an empty cache, in a fresh process (one thread)."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d, PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, "-c", _COLD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import numba
    import torch

    from engine.mlp import set_blas_threads

    numba.set_num_threads(1)
    set_blas_threads(1)
    torch.set_num_threads(1)
    print("language models: one training step (forward + backward + AdamW, clip 1.0), float64, 1 thread; "
          f"medians of {REPEATS} interleaved repeats; load average {os.getloadavg()[0]:.1f} (2 cores: above ~2, "
          "wall times stretch while CPU times stay)")
    for case in CASES:
        r = step_case(*case)
        print(f"  {r['case']:>16}: {r['model']} batch {r['batch']} x T {r['T']} ({r['params']:,} parameters): "
              f"engine {r['engine_ms']:.2f} ms, torch {r['torch_ms']:.2f} ms, ratio {r['ratio']:.2f}x "
              f"(target >= {r['target']}x: {'OK' if r['met'] else 'MISSED'}); tokens/s engine "
              f"{r['engine_tokens_s']:,.0f}, torch {r['torch_tokens_s']:,.0f}", flush=True)
    d = default_run()
    print(f"  default explorer run (names, gpt, {d['steps']} steps, evaluations and samples): {d['seconds']:.2f} s "
          f"wall, {d['cpu_seconds']:.2f} s CPU (target < 10 s: {'OK' if d['met'] else 'MISSED'}), final val loss "
          f"{d['val_loss']:.4f}, "
          f"{d['tokens_s']:,.0f} tokens/s", flush=True)
    print(f"  load average now {os.getloadavg()[0]:.1f}", flush=True)
    c = cold_compile()
    print(f"  cold compile of the language-model kernels (empty cache, one process): "
          f"{sum(c['modules'].values()):.1f} s ({', '.join(f'{k} {v:.1f}' for k, v in c['modules'].items())})")


if __name__ == "__main__":
    main()
