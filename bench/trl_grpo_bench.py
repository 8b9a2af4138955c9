"""TRL GRPOTrainer baseline of `npm run bench:grpo` (bench/grpo.ts): the end-to-end step rate of TRL 1.13's GRPO on
CPU (rollouts with transformers' `generate`, a trivial reward function, one update per step) on the model folder the
TypeScript side writes, with the same group size, prompt and completion lengths, LoRA and threads.

Prints one JSON line: {"s_per_step": median seconds per step after the warm-up, "steps": [...], "trl": version, ...}.
Also `--write-tokenizer DIR` saves the word-level tokenizer (t0 … t{V-1}, whitespace-split) both sides use.
"""
import argparse
import json
import resource
import statistics
import time
from importlib.metadata import version

import torch
from datasets import Dataset
from peft import LoraConfig
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast, TrainerCallback
from trl import GRPOConfig, GRPOTrainer


def tokenizer(vocab_size):
    vocab = {f"t{i}": i for i in range(vocab_size)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="t0", eos_token="t2", unk_token="t0")


class StepTimes(TrainerCallback):
    def __init__(self):
        self.times = [time.perf_counter()]

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--write-tokenizer")
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--completion-len", type=int, default=32)
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.write_tokenizer:
        tokenizer(a.vocab).save_pretrained(a.write_tokenizer)
        return
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    tok = tokenizer(a.vocab)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    n_steps = a.warmup + a.steps
    rows = a.prompts * n_steps
    g = torch.Generator().manual_seed(1)
    prompts = [
        " ".join(f"t{int(x)}" for x in torch.randint(3, a.vocab, (a.prompt_len,), generator=g)) for _ in range(rows)
    ]
    args = GRPOConfig(
        output_dir="/tmp/trl-grpo-bench",
        per_device_train_batch_size=a.prompts * a.generations,
        num_generations=a.generations,
        max_completion_length=a.completion_len,
        beta=0.0,
        loss_type="dapo",
        learning_rate=1e-5,
        temperature=1.0,
        top_p=1.0,
        max_steps=n_steps,
        report_to=[],
        use_cpu=True,
        logging_steps=1,
        save_strategy="no",
        dataloader_num_workers=0,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=lambda completions, **kw: [float(len(c)) / 100 for c in completions],
        args=args,
        train_dataset=Dataset.from_dict({"prompt": prompts}),
        processing_class=tok,
        peft_config=LoraConfig(r=a.lora_r, lora_alpha=2 * a.lora_r, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    times = StepTimes()
    trainer.add_callback(times)
    trainer.train()
    per_step = [b - t for t, b in zip(times.times, times.times[1:])]
    timed = per_step[a.warmup :]
    print(
        json.dumps(
            {
                "s_per_step": statistics.median(timed),
                "steps": per_step,
                "trl": version("trl"),
                "torch": torch.__version__,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
