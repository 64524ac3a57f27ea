"""Pretraining step benchmark: time per full step and the share spent outside the model.

    python bench/bench_pretrain.py [--presets small,paper] [--precisions fp32,bf16] [--batch 16] [--steps 4]

A full step, as `findna.trainer.train_step` takes it, split into its parts and timed on the CPU (each part
ends before the next starts, so wall times add up):
  data    WindowSampler.batch: fetch + encode + N filter (pyfaidx, the bundled demo genome)
  views   one_hot + student_view + teacher_view (on the fly, vectorised)
  model   student forward + backward, teacher forward, clip, AdamW step (the `precision` autocast)
  ema     TeacherEMA.update + DistillationLoss.update_center
Each row is one (preset, precision); the figure of merit is (data + views + ema) / step (target < 10 %).
Medians over `--steps` steps after one warm-up step. bf16 is only fast on CPUs with AMX or AVX-512 BF16;
the script prints whether this one has them.
"""
import argparse, statistics, sys, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from findna.alphabet import one_hot
from findna.distill import mlm_loss
from findna.genome import Genome, WindowSampler, demo_genome_path
from findna.model import FinDNAConfig
from findna.model import autocast_context, resolve_precision
from findna.trainer import Dist, PretrainConfig, build_state
from findna.views import student_view, teacher_view

def time_steps(preset:str, precision:str, batch:int, steps:int) -> dict:
    cfg = PretrainConfig(preset=preset, precision=precision, batch_size=batch, steps=steps + 1)
    s = build_state(cfg, Dist())
    L = FinDNAConfig.preset(preset).max_len
    sampler = WindowSampler(Genome(demo_genome_path()), L, chroms=["chr20_a"], seed=0)
    parts = {k: [] for k in ("data", "views", "model", "ema")}
    for step in range(steps + 1):
        t0 = time.perf_counter()
        w = sampler.batch(step, batch)
        t1 = time.perf_counter()
        g = torch.Generator().manual_seed(step)
        x = one_hot(w); sv = student_view(x, g); tv = teacher_view(x, g)
        t2 = time.perf_counter()
        with autocast_context(precision, torch.device("cpu")):
            out = s.student(sv.inputs)
            with torch.no_grad(): t_cls = s.ema.teacher(tv).cls_logits
            loss = mlm_loss(out.mlm_logits, sv.targets, sv.mask) + s.loss_fn(out.cls_logits, t_cls, 0.04)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(s.student.parameters(), 0.5)
        s.optimizer.step(); s.optimizer.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        s.ema.update(s.student, 0.996); s.loss_fn.update_center(t_cls.float())
        t4 = time.perf_counter()
        if step:                                                       # step 0 is the warm-up
            for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)): parts[k].append(v)
    med = {k: statistics.median(v) for k, v in parts.items()}
    total = sum(med.values())
    return dict(preset=preset, precision=precision, batch=batch, tokens=batch * (L + 10), step_s=total,
                tokens_per_s=batch * L / total, outside_share=(med["data"] + med["views"] + med["ema"]) / total, **med)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="small,paper")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    fast = resolve_precision("auto", torch.device("cpu")) == "bf16"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; CPU has fast bf16 (AMX/AVX512-BF16): {fast}")
    print(f"{'preset':<7}{'prec':<6}{'batch':>6}{'step s':>9}{'tok/s':>9}{'data':>8}{'views':>8}{'model':>8}{'ema':>8}{'outside':>9}")
    for preset in args.presets.split(","):
        for precision in args.precisions.split(","):
            r = time_steps(preset, precision, args.batch, args.steps)
            print(f"{preset:<7}{precision:<6}{r['batch']:>6}{r['step_s']:>9.3f}{r['tokens_per_s']:>9.0f}"
                  f"{r['data']:>8.3f}{r['views']:>8.3f}{r['model']:>8.3f}{r['ema']:>8.3f}{r['outside_share']:>8.1%}", flush=True)

if __name__ == "__main__":
    main()
