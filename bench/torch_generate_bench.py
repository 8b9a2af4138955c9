#!/usr/bin/env python3
"""torch_generate_bench.py - PyTorch eager generation with a KV cache: the baseline of `npm run bench:generate`.

The model is ../shared/bench/llama_torch.py's Llama (imported, not copied), stories15m shape by default, random
weights; generation adds only what the shared module lacks: a preallocated KV cache and a forward that feeds new
tokens at a position offset (F.scaled_dot_product_attention, causal for the prefill, over the cache for a decode
step). Greedy decoding (argmax), no eos. Prints one JSON line:
  {"impl": "pytorch-eager", "prefill_tok_s", "decode_tok_s": {"1": ..., "8": ...}, "torch", "threads"}

  python bench/torch_generate_bench.py [--shared-bench DIR] [--prompt 128] [--new 128] [--batches 1,8]
                                       [--threads 2] [--repeats 3]
"""
import argparse
import json
import statistics
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


@torch.no_grad()
def forward_cached(model, ids, pos0, cache_k, cache_v, cos, sin):
    """Logits of the last position of ids [B, T] fed at positions pos0..pos0+T-1; appends to the cache."""
    lt = sys.modules["llama_torch"]
    B, T = ids.shape
    x = model.embed_tokens(ids)
    c, s = cos[pos0:pos0 + T], sin[pos0:pos0 + T]
    for i, layer in enumerate(model.layers):
        att = layer.self_attn
        h = layer.input_layernorm(x)
        q = att.q_proj(h).view(B, T, att.n_heads, att.hd).transpose(1, 2)
        k = att.k_proj(h).view(B, T, att.n_kv, att.hd).transpose(1, 2)
        v = att.v_proj(h).view(B, T, att.n_kv, att.hd).transpose(1, 2)
        q = q * c + lt.rotate_half(q) * s
        k = k * c + lt.rotate_half(k) * s
        cache_k[i][:, :, pos0:pos0 + T] = k
        cache_v[i][:, :, pos0:pos0 + T] = v
        K, V = cache_k[i][:, :, :pos0 + T], cache_v[i][:, :, :pos0 + T]
        if att.n_kv != att.n_heads:
            K = K.repeat_interleave(att.n_heads // att.n_kv, dim=1)
            V = V.repeat_interleave(att.n_heads // att.n_kv, dim=1)
        o = F.scaled_dot_product_attention(q, K, V, is_causal=T > 1)
        x = x + att.o_proj(o.transpose(1, 2).reshape(B, T, att.n_heads * att.hd))
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    x = model.norm(x[:, -1])
    return F.linear(x, model.embed_tokens.weight) if model.lm_head is None else model.lm_head(x)


def generate(model, prompt, n_new, batch):
    """Greedy generation; returns (prefill seconds, decode seconds for n_new - 1 steps)."""
    cfg = model.cfg
    S = prompt.shape[1] + n_new
    shape = (batch, cfg.n_kv_heads, S, cfg.head_dim)
    cache_k = [torch.empty(shape) for _ in range(cfg.n_layers)]
    cache_v = [torch.empty(shape) for _ in range(cfg.n_layers)]
    lt = sys.modules["llama_torch"]
    cos, sin = lt.rope_cos_sin(S, cfg.head_dim, cfg.rope_theta)
    ids = prompt.expand(batch, -1).contiguous()
    t0 = time.perf_counter()
    logits = forward_cached(model, ids, 0, cache_k, cache_v, cos, sin)
    tok = logits.argmax(-1, keepdim=True)
    t1 = time.perf_counter()
    pos = prompt.shape[1]
    for _ in range(n_new - 1):
        logits = forward_cached(model, tok, pos, cache_k, cache_v, cos, sin)
        tok = logits.argmax(-1, keepdim=True)
        pos += 1
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared-bench", default=os.path.join(HERE, "..", "..", "shared", "bench"))
    ap.add_argument("--config", default="stories15m")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    sys.path.insert(0, os.path.abspath(a.shared_bench))
    import llama_torch  # noqa: F401  (../shared/bench/llama_torch.py)

    torch.set_num_threads(a.threads)
    cfg = llama_torch.CONFIGS[a.config]
    model = llama_torch.Llama(cfg).init_random(0).eval()
    g = torch.Generator().manual_seed(1)
    prompt = torch.randint(0, cfg.vocab_size, (1, a.prompt), generator=g)
    generate(model, prompt, 4, 1)  # warm-up
    prefill, decode = [], {}
    for b in [int(x) for x in a.batches.split(",")]:
        times = []
        for _ in range(a.repeats):
            tp, td = generate(model, prompt, a.new, b)
            times.append(td)
            if b == 1:
                prefill.append(tp)
        decode[str(b)] = b * (a.new - 1) / statistics.median(times)
    print(json.dumps({"impl": "pytorch-eager", "prefill_tok_s": a.prompt / statistics.median(prefill), "decode_tok_s": decode,
                      "torch": torch.__version__, "threads": a.threads}))


if __name__ == "__main__":
    main()
