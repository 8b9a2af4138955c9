#!/usr/bin/env python3
"""peft_roundtrip.py - does an adapter written by the tunekit engine mean the same thing to Hugging Face PEFT?

Run by hand (not in CI), from the repository root, with the project venv:

  Compare mode: the engine's logits against PEFT's for the same model, adapter and tokens
    .py/bin/python test/native/peft_roundtrip.py --model MODEL_DIR --adapter ADAPTER_DIR \\
        --tokens TOKENS(.bin|.json) --engine-logits LOGITS(.npy|.safetensors|.bin) [--tol 1e-5]

  Show mode (no --engine-logits): load the adapter with PeftModel.from_pretrained, merge it, and print the logits
  of the given ids (or of every example of --tokens) so they can be compared with the engine by eye or by file
    .py/bin/python test/native/peft_roundtrip.py --model MODEL_DIR --adapter ADAPTER_DIR --ids 1,2,3 \\
        [--dump-logits OUT(.npy|.safetensors)] [--print-cols 8]

Inputs
  --tokens   the engine's token file (TKTOKEN1, see test/fixtures/README.md) or JSON [{"input_ids": [...]}, ...]
  --ids      comma-separated token ids: one sequence (instead of --tokens)
  --engine-logits  fp32 logits the engine computed, one (T_i, V) block per example, each example run alone from
             position 0: .npy of shape [sum T_i, V] (examples concatenated along positions) or [T, V];
             .safetensors with keys logits.<i> (or a single tensor [sum T_i, V]); .bin = raw little-endian float32,
             sum(T_i) * V values, nothing else.
  Without --adapter the base model's logits are used (e.g. for a full fine-tuning output folder from the engine).

What it checks
  1. The adapter folder loads with PeftModel.from_pretrained, and every lora_A/lora_B tensor in
     adapter_model.safetensors landed in a LoRA module of the model bit-exactly (PEFT only warns about missing or
     unexpected keys; this script fails instead), and every LoRA module of the model got a tensor from the file.
  2. Unmerged and merged (merge_and_unload) logits agree (scale is applied as PEFT computes it from
     adapter_config.json: lora_alpha / r, or / sqrt(r) with use_rslora).
  3. Compare mode: max |engine - PEFT| per example and max-norm relative error max|diff| / max|PEFT| <= --tol.
Exit status: 0 ok, 1 mismatch, 2 bad input.

Getting engine logits through the addon (an .mts file run with `npx tsx`, after `npm run build:native`):
    import { writeFileSync } from 'node:fs';
    import { logits } from '<repo>/native/index.ts';
    const parts = [];
    for (const ids of examples) {   // the same sequences as --tokens, each run alone from position 0
      const r = await logits({ modelDir, adapterDir, ids, threads: 1 });
      parts.push(Buffer.from(r.logits.buffer, r.logits.byteOffset, r.logits.byteLength));
    }
    writeFileSync('engine_logits.bin', Buffer.concat(parts));   // then --engine-logits engine_logits.bin
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

IGNORE_INDEX = -100


def fail(msg, code=2):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(code)


def read_tokens(path):
    """TKTOKEN1 (little-endian: magic, u32 version 1, u32 n, u64 offsets[n+1], i32 ids[], i32 labels[]) or JSON."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] == b"TKTOKEN1":
        if len(data) < 16:
            fail(f"{path}: truncated header")
        version, n = struct.unpack_from("<II", data, 8)
        if version != 1:
            fail(f"{path}: token file version {version}, expected 1")
        pos = 16 + 8 * (n + 1)
        if len(data) < pos:
            fail(f"{path}: truncated offsets")
        offsets = struct.unpack_from(f"<{n + 1}Q", data, 16)
        if offsets[0] != 0 or any(b < a for a, b in zip(offsets, offsets[1:])):
            fail(f"{path}: offsets not increasing from 0")
        total = offsets[-1]
        if len(data) != pos + 8 * total:
            fail(f"{path}: {len(data)} bytes, expected {pos + 8 * total} for {total} tokens")
        ids = struct.unpack_from(f"<{total}i", data, pos)
        return [list(ids[offsets[i] : offsets[i + 1]]) for i in range(n)]
    try:
        doc = json.loads(data)
        return [list(ex["input_ids"]) for ex in doc]
    except (ValueError, KeyError, TypeError) as e:
        fail(f"{path}: neither a TKTOKEN1 file nor JSON [{{'input_ids': [...]}}, ...] ({e})")


def read_engine_logits(path, lengths, vocab):
    total = sum(lengths)
    if path.endswith(".npy"):
        arr = np.load(path)
    elif path.endswith(".safetensors"):
        from safetensors.numpy import load_file

        t = load_file(path)
        keys = [f"logits.{i}" for i in range(len(lengths))]
        if all(k in t for k in keys):
            arr = np.concatenate([t[k].reshape(-1, vocab) for k in keys])
        elif len(t) == 1:
            arr = next(iter(t.values()))
        else:
            fail(f"{path}: expected keys {keys} or a single tensor, found {sorted(t)[:6]}")
    else:
        raw = np.fromfile(path, dtype="<f4")
        if raw.size != total * vocab:
            fail(f"{path}: {raw.size} float32 values, expected sum(T)={total} x V={vocab} = {total * vocab}")
        arr = raw
    arr = np.asarray(arr, dtype=np.float32).reshape(-1, vocab) if arr.size == total * vocab else arr
    if arr.shape != (total, vocab):
        fail(f"{path}: logits shape {tuple(arr.shape)}, expected ({total}, {vocab}) for lengths {lengths}")
    out, start = [], 0
    for n in lengths:
        out.append(arr[start : start + n])
        start += n
    return out


def check_adapter_loaded(pm, adapter_dir):
    """Every tensor of the file is in the model bit-exactly, and every LoRA module got its A and B."""
    from safetensors.torch import load_file

    path = os.path.join(adapter_dir, "adapter_model.safetensors")
    if not os.path.exists(path):
        fail(f"{adapter_dir}: no adapter_model.safetensors")
    file_t = load_file(path)
    model_t = {n.replace(".default.weight", ".weight"): p for n, p in pm.named_parameters() if ".lora_" in n}
    missing = sorted(set(model_t) - set(file_t))
    unexpected = sorted(set(file_t) - set(model_t))
    if missing or unexpected:
        fail(f"{path}: keys do not match the PEFT model: missing {missing[:4]} unexpected {unexpected[:4]}", 1)
    for k, t in file_t.items():
        if tuple(t.shape) != tuple(model_t[k].shape):
            fail(f"{path}: {k} shape {tuple(t.shape)} != model {tuple(model_t[k].shape)}", 1)
        if not torch.equal(t.to(model_t[k].dtype), model_t[k].detach()):
            fail(f"{path}: {k} differs after PeftModel.from_pretrained", 1)
    return len(file_t)


@torch.no_grad()
def logits_of(model, seqs):
    return [model(input_ids=torch.tensor([s])).logits[0].float().numpy() for s in seqs]


def max_rel(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / max(float(np.abs(b).max()), 1e-30))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="HF model folder (config.json + model.safetensors)")
    ap.add_argument("--adapter", help="PEFT adapter folder written by the engine")
    ap.add_argument("--tokens", help="TKTOKEN1 token file or JSON examples")
    ap.add_argument("--ids", help="comma-separated token ids (one sequence)")
    ap.add_argument("--engine-logits", help="engine logits (.npy, .safetensors, raw .bin float32)")
    ap.add_argument("--tol", type=float, default=1e-5, help="max-norm relative tolerance (default 1e-5)")
    ap.add_argument("--dump-logits", help="write PEFT's logits (.npy [sum T, V] or .safetensors logits.<i>)")
    ap.add_argument("--print-cols", type=int, default=8, help="show mode: logits columns printed per position")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    if bool(args.tokens) == bool(args.ids):
        fail("give exactly one of --tokens or --ids")
    if args.ids:
        try:
            seqs = [[int(x) for x in args.ids.split(",") if x.strip()]]
        except ValueError:
            fail(f"--ids: not a comma-separated list of integers: {args.ids!r}")
    else:
        seqs = read_tokens(args.tokens)
    if not seqs or any(len(s) == 0 for s in seqs):
        fail("empty sequence")

    import transformers
    from transformers import AutoModelForCausalLM

    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    load = dict(dtype=torch.float32, attn_implementation="eager")
    base = AutoModelForCausalLM.from_pretrained(args.model, **load).eval()
    V = base.config.vocab_size
    for s in seqs:
        bad = [t for t in s if t < 0 or t >= V]
        if bad:
            fail(f"token ids {bad[:5]} outside the vocabulary [0, {V})")
    print(f"model {args.model}: {type(base).__name__}, vocab {V}, examples {len(seqs)} lengths {[len(s) for s in seqs]}")

    if args.adapter:
        from peft import PeftModel

        acfg = json.load(open(os.path.join(args.adapter, "adapter_config.json")))
        pm = PeftModel.from_pretrained(base, args.adapter).eval()
        n = check_adapter_loaded(pm, args.adapter)
        r, alpha, rs = acfg.get("r"), acfg.get("lora_alpha"), acfg.get("use_rslora", False)
        print(
            f"adapter {args.adapter}: {n} tensors loaded bit-exactly by PeftModel.from_pretrained; r={r} "
            f"lora_alpha={alpha} use_rslora={rs} targets={sorted(acfg.get('target_modules') or [])}"
        )
        scalings = {v for m in pm.modules() if hasattr(m, "scaling") and isinstance(m.scaling, dict)
                    for v in m.scaling.values()}
        print(f"  PEFT scaling per module: {sorted(scalings)}")
        ref = logits_of(pm, seqs)
        with pm.disable_adapter():
            plain = logits_of(pm, seqs)
        effect = max(max_rel(a, b) for a, b in zip(ref, plain))
        print(f"  adapter effect on the logits (max-norm relative vs base): {effect:.3e}")
        if effect == 0:
            print("  warning: the adapter does not change the logits (all lora_B zero?): the comparison proves little")
        merged = pm.merge_and_unload()
        mer = logits_of(merged, seqs)
        mr = max(max_rel(a, b) for a, b in zip(mer, ref))
        print(f"  merged vs unmerged logits: max-norm relative error {mr:.3e}")
        if mr > 1e-5:
            print("FAIL: merge_and_unload changes the logits", file=sys.stderr)
            sys.exit(1)
        if "base_model.model.lm_head" in str(acfg.get("target_modules")):
            print("  note: adapter targets lm_head")
    else:
        ref = logits_of(base, seqs)
        print("no --adapter: base model logits")

    if args.dump_logits:
        if args.dump_logits.endswith(".safetensors"):
            from safetensors.numpy import save_file

            save_file({f"logits.{i}": np.ascontiguousarray(lg) for i, lg in enumerate(ref)}, args.dump_logits)
        else:
            np.save(args.dump_logits, np.concatenate(ref).astype(np.float32))
        print(f"wrote PEFT logits to {args.dump_logits}")

    if not args.engine_logits:
        np.set_printoptions(precision=6, suppress=False, linewidth=160)
        for i, lg in enumerate(ref):
            print(f"example {i}: logits ({lg.shape[0]}, {lg.shape[1]}); first {args.print_cols} columns per position:")
            for t, row in enumerate(lg):
                print(f"  t={t:3d} id={seqs[i][t]:6d} argmax={int(row.argmax()):6d} {row[: args.print_cols]}")
        return

    eng = read_engine_logits(args.engine_logits, [len(s) for s in seqs], V)
    worst = 0.0
    for i, (e, r) in enumerate(zip(eng, ref)):
        if not np.isfinite(e).all():
            print(f"example {i}: engine logits contain NaN/Inf")
            worst = float("inf")
            continue
        d = float(np.abs(e.astype(np.float64) - r).max())
        rel = max_rel(e, r)
        worst = max(worst, rel)
        print(f"example {i}: T={len(r)} max|engine - PEFT| = {d:.3e}  max|PEFT| = {np.abs(r).max():.3e}  "
              f"relative {rel:.3e}")
    ok = worst <= args.tol
    print(f"{'OK' if ok else 'FAIL'}: worst max-norm relative error {worst:.3e} (tolerance {args.tol:.0e})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
