"""Fine-tuning throughput against pretraining, side by side in one run, at the same precision.

    python bench/bench_finetune.py [--task prom_core_all] [--batches 32,128,512] [--steps 6] [--threads 0]

Fine-tuning: the real `findna.finetuning._train_step` (token-bounded pieces, autocast, clip, AdamW) of the shipped
`small` teacher as a classifier (layout "pretrained"), in training mode with the task's reference dropouts (as
`finetune` runs it), on the task's training rows (the shared GUE data if present, else the synthetic stand-in,
labelled so), at each batch size. Pretraining: `bench_pretrain.time_steps` (the real `train_step` of the `small`
preset, batch 16 x 1 kb). Figures: real bases per second (padding and CLS tokens not counted), medians after one
warm-up step, fine-tuning / pretraining, and the same step with torch's `nn.Dropout` in place of
`findna.chordmixer.FastDropout` (interleaved step by step, so that both see the same machine load).
"""
import argparse, statistics, sys, tempfile, time, types
from pathlib import Path
import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1])); sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pretrain import time_steps
from findna.distill import adamw
from findna.chordmixer import FastDropout
from findna.finetuning import FinetuneConfig, _train_step, finetune_precision, resolve_hyperparameters
from findna.model import FinDNAClassifier
from findna.tasks import load, write_synthetic_data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

def classifier(data, torch_dropout:bool=False) -> FinDNAClassifier:
    "The shipped teacher as `finetune` builds it for `data`: the task's reference dropouts, training mode."
    hp = resolve_hyperparameters(FinetuneConfig(task=data.spec.name), data.spec)
    model = FinDNAClassifier.from_pretrained("findna-small-chr20", n_classes=data.spec.n_classes, max_len=data.length,
                                             mlp_dropout=hp["mlp_dropout"], layer_dropout=hp["layer_dropout"]).train()
    if torch_dropout:                                                   # the comparison: torch's own mask
        for m in model.modules():
            if isinstance(m, FastDropout): m.forward = types.MethodType(nn.Dropout.forward, m)
    return model

def finetune_tokens_per_s(task:str, batch:int, steps:int, precision:str) -> dict:
    "Median real bases per second of fine-tuning steps of batch `batch` on `task`'s training rows, " \
    "ours and with torch's dropout."
    root = SHARED if (SHARED / "GUE").is_dir() else write_synthetic_data(Path(tempfile.mkdtemp()) / "data")
    data = load(task, root)
    models = {k: classifier(data, k == "torch") for k in ("ours", "torch")}
    opts = {k: adamw(m, 1e-4, 0.01) for k, m in models.items()}
    rng, times, tokens = np.random.default_rng(0), {k: [] for k in models}, []
    for step in range(steps + 1):
        rows = rng.choice(len(data.train), size=min(batch, len(data.train)), replace=False)
        for k, model in models.items():
            t = time.perf_counter()
            float(_train_step(model, opts[k], data.train, rows, 1e-4, step, precision, 32768))
            if step: times[k].append(time.perf_counter() - t)
        if step: tokens.append(int(data.train.lengths[rows].sum()))
    s, s_torch = statistics.median(times["ours"]), statistics.median(times["torch"])
    return dict(batch=batch, step_s=s, tokens_per_s=statistics.median(tokens) / s, torch_step_s=s_torch, data=str(root),
                length=data.length, dropout=(models["ours"].config.mlp_dropout, models["ours"].config.layer_dropout))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="prom_core_all"); ap.add_argument("--batches", default="32,128,512")
    ap.add_argument("--steps", type=int, default=6); ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--precision", default="auto")
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    precision = finetune_precision(a.precision, torch.device("cpu"))
    pre = time_steps("small", precision, 16, a.steps)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, precision {precision}")
    print(f"pretraining (small, 16 x 1 kb): {pre['tokens_per_s']:,.0f} bases/s")
    print(f"{'task':<16}{'len':>5}{'batch':>7}{'step s':>9}{'bases/s':>10}{'vs pretraining':>16}"
          f"{'nn.Dropout s':>14}{'speed-up':>10}")
    for b in map(int, a.batches.split(",")):
        r = finetune_tokens_per_s(a.task, b, a.steps, precision)
        print(f"{a.task:<16}{r['length']:>5}{r['batch']:>7}{r['step_s']:>9.3f}{r['tokens_per_s']:>10,.0f}"
              f"{r['tokens_per_s'] / pre['tokens_per_s']:>15.0%}{r['torch_step_s']:>14.3f}"
              f"{r['torch_step_s'] / r['step_s']:>9.2f}x", flush=True)
    print(f"data: {r['data']}; dropout (mlp, layer): {r['dropout']}, training mode")

if __name__ == "__main__":
    main()
