#!/usr/bin/env python3
"""trl_dpo_bench.py - the TRL baseline of `npm run bench:train -- --method dpo`: TRL's own DPOTrainer (transformers +
PEFT), LoRA, on the stories15m workload of /work/shared/bench (Llama dim 288, 6 layers, 6 heads, FFN 768, vocab
32000, untied lm_head, random weights N(0, 0.02)), fp32 on the CPU.

Data: --pairs random preference pairs (prompt of --prompt-len tokens, chosen and rejected answers of
--completion-len tokens counting TRL's end-of-sequence token), fed through a word-level tokenizer whose words are the
token ids, so TRL tokenizes exactly these sequences; every step is one batch of all pairs (chosen and rejected in one
forward, TRL's default), num_train_epochs = steps. DPOConfig: loss_type sigmoid, beta 0.1, precompute_ref_log_probs
(the reference log-probs computed once, before training, as the engine does), AdamW lr 2e-4 constant, no weight
decay, no clipping, dropout off, bf16 off; --gradient-checkpointing on or off (TRL's default is on).

Timing: the time between consecutive step ends (forward, loss, backward, optimizer, data loading), wall clock and
process CPU time (all threads); the first --warmup steps are excluded, the rest give the medians. Peak RSS: ru_maxrss of this process (model, reference pass and
training included). Prints one JSON line with --json.
"""
import argparse
import json
import resource
import statistics
import tempfile
import time

import torch
import transformers
import trl
from datasets import Dataset
from peft import LoraConfig, get_peft_model
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, TrainerCallback
from trl import DPOConfig, DPOTrainer

VOCAB = 32000


def word_tokenizer():
    """Word i is token i (words t0 ... t31998), the end-of-sequence token is the last id."""
    vocab = {f"t{i}": i for i in range(VOCAB - 1)}
    vocab["</s>"] = VOCAB - 1
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="</s>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="</s>")


class StepTimes(TrainerCallback):
    def __init__(self):
        self.ends = []
        self.cpu = []

    def on_train_begin(self, args, state, control, **kwargs):
        self.ends = [time.perf_counter()]
        self.cpu = [time.process_time()]

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())
        self.cpu.append(time.process_time())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--completion-len", type=int, default=128)
    ap.add_argument("--steps", type=int, default=8, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lora-r", type=int, default=8)
    ap.add_argument("--lora-alpha", type=float, default=16.0)
    ap.add_argument("--targets", default="q,k,v,o")
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=288, intermediate_size=768, num_hidden_layers=6,
                         num_attention_heads=6, num_key_value_heads=6, max_position_embeddings=1024,
                         rms_norm_eps=1e-5, tie_word_embeddings=False, initializer_range=0.02,
                         attention_dropout=0.0)
    model = LlamaForCausalLM(config).to(torch.float32)
    lora = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=0.0, bias="none",
                      target_modules=[f"{t}_proj" for t in args.targets.split(",")], task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)

    g = torch.Generator().manual_seed(args.seed + 1)
    words = lambda n: " ".join(f"t{i}" for i in torch.randint(0, VOCAB - 1, (n,), generator=g).tolist())
    n_answer = args.completion_len - 1  # TRL appends the end-of-sequence token
    rows = [{"prompt": words(args.prompt_len), "chosen": " " + words(n_answer), "rejected": " " + words(n_answer)}
            for _ in range(args.pairs)]
    total = args.steps + args.warmup
    with tempfile.TemporaryDirectory() as tmp:
        dpo_config = DPOConfig(
            output_dir=tmp, per_device_train_batch_size=args.pairs, num_train_epochs=total, max_steps=total,
            learning_rate=2e-4, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=0.0,
            loss_type=["sigmoid"], beta=0.1, precompute_ref_log_probs=True, max_length=None,
            gradient_checkpointing=args.gradient_checkpointing, bf16=False, fp16=False, use_cpu=True,
            disable_dropout=True, logging_steps=1, save_strategy="no", report_to="none", seed=args.seed,
            dataloader_drop_last=False,
        )
        times = StepTimes()
        trainer = DPOTrainer(model=model, args=dpo_config, train_dataset=Dataset.from_list(rows),
                             processing_class=word_tokenizer(), callbacks=[times])
        first = trainer.train_dataset[0]
        seq = len(first["prompt_ids"]) + len(first["chosen_ids"])
        assert seq == args.prompt_len + args.completion_len, seq
        trainer.train()
    step_s = [b - a for a, b in zip(times.ends, times.ends[1:])]
    assert len(step_s) == total, (len(step_s), total)
    ms = statistics.median(step_s[args.warmup:]) * 1e3
    cpu_ms = statistics.median([b - a for a, b in zip(times.cpu, times.cpu[1:])][args.warmup:]) * 1e3
    tokens_per_step = 2 * args.pairs * seq
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    result = {
        "impl": "trl-dpo" + ("-gc" if args.gradient_checkpointing else ""),
        "torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
        "threads": torch.get_num_threads(), "pairs": args.pairs, "seq": seq,
        "tokens_per_s": tokens_per_step / (ms / 1e3), "steps_per_s": 1e3 / ms, "ms_per_step": ms, "cpu_ms_per_step": cpu_ms,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "losses": losses, "step_ms": [s * 1e3 for s in step_s],
    }
    print(f"RESULT {result['impl']}: {result['tokens_per_s']:.1f} tokens/s, {ms:.1f} ms/step, "
          f"peak RSS {result['peak_rss_mib']:.0f} MiB, loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
