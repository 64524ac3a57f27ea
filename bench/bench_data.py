"""Data pipeline benchmark: windows/s of sampler + masking + both views, against a naive per-sequence loop and
against the model's own consumption rate, measured side by side in one run.

    python bench/bench_data.py [--fasta FASTA] [--length 1000] [--batch 64] [--repeats 5] [--presets small,paper]

Three rates, each the median over `--repeats` batches:
  pipeline  WindowSampler.batch (pyfaidx fetch + encode + N filter) -> one_hot -> student_view + teacher_view,
            vectorised over the batch (findna.views);
  naive     the same sampler, then the same augmentations written per sequence in a Python loop (the way the
            reference code builds its views, but on the fly);
  model     windows/s a full pretraining step consumes: student forward+backward, teacher forward, AdamW step
            and EMA update, on the same batch shape (one preset per row), in the precision the trainer's
            `--precision auto` picks on this machine (bf16 only where it is fast: see findna.model.resolve_precision).
The figures of merit are the ratios pipeline/naive and pipeline/model, printed at the end.
"""
import argparse, statistics, sys, time
from pathlib import Path
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from findna.alphabet import N_INDEX, one_hot, reverse_complement
from findna.genome import Genome, WindowSampler, demo_genome_path
from findna.views import student_view, teacher_view

# --- a deliberately naive implementation of the two views: one sequence at a time ---------------------

def _random_base(rng):
    b = torch.zeros(5); b[int(rng.integers(4))] = 1.0; return b

def naive_student_view(x, rng, ratio=0.3, noise_std=0.2, rc_prob=0.5):
    inputs, masks, targets = [], [], []
    for seq in x:                                               # (L, 5) per sequence
        if rng.random() < rc_prob: seq = reverse_complement(seq)
        target = seq.clone()
        bases = [i for i in range(len(seq)) if seq[i, :N_INDEX].sum() > 0]
        chosen = rng.choice(bases, size=round(ratio * len(bases)), replace=False)
        mask = torch.zeros(len(seq), dtype=torch.bool)
        for i in chosen:
            mask[i] = True
            u = rng.random()
            if u < 0.8: seq[i] = 0.0
            elif u < 0.9: seq[i] = _random_base(rng)
        seq = seq + torch.from_numpy(rng.normal(0, noise_std, size=seq.shape).astype(np.float32))
        inputs.append(seq); masks.append(mask); targets.append(target)
    return torch.stack(inputs), torch.stack(masks), torch.stack(targets)

def naive_teacher_view(x, rng, max_len=20):
    out = []
    for seq in x:
        L = len(seq)
        d = int(rng.integers(max_len + 1)); p = int(rng.integers(L - d + 1))            # deletion
        seq = torch.cat([seq[:p], seq[p + d:], torch.stack([_random_base(rng) for _ in range(d)]) if d else seq[:0]])
        d = int(rng.integers(max_len + 1)); p = int(rng.integers(L - d + 1))            # insertion
        ins = torch.stack([_random_base(rng) for _ in range(d)]) if d else seq[:0]
        seq = torch.cat([seq[:p], ins, seq[p:]])[:L]
        seq = torch.roll(seq, int(rng.integers(-max_len, max_len + 1)), 0)             # translocation
        out.append(seq)
    return torch.stack(out)

# --- timing -------------------------------------------------------------------------------------------

def median_time(fn, repeats):
    fn()                                                           # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)

def model_step_fn(preset, batch, length):
    from findna.model import FinDNA, FinDNAConfig, autocast_context, make_teacher
    from findna.distill import DistillationLoss, TeacherEMA, mlm_loss
    cfg = FinDNAConfig.preset(preset)
    student = FinDNA(cfg); ema = TeacherEMA(make_teacher(student))
    loss_fn = DistillationLoss(cfg.out_dim)
    opt = torch.optim.AdamW(student.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = one_hot(torch.randint(0, 4, (batch, length), generator=g))
    sv, tv = student_view(x, g), teacher_view(x, g)
    def step():
        with autocast_context("auto", torch.device("cpu")):
            out = student(sv.inputs)
            with torch.no_grad(): t_cls = ema.teacher(tv).cls_logits
            loss = mlm_loss(out.mlm_logits, sv.targets, sv.mask) + loss_fn(out.cls_logits, t_cls, 0.04)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True); ema.update(student, 0.996)
        loss_fn.update_center(t_cls)
    return step

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fasta", default=str(demo_genome_path()))
    ap.add_argument("--cache-dir", default="/tmp/findna-cache")
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--presets", default="small,paper", help="model presets for the consumption rate ('' to skip)")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; L = {args.length}, batch = {args.batch}, "
          f"genome {args.fasta}")
    genome = Genome(args.fasta, cache_dir=args.cache_dir)
    sampler = WindowSampler(genome, args.length, seed=0)
    steps = iter(range(10**9))
    g = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)

    def fetch(): return sampler.batch(next(steps), args.batch)
    def pipeline():
        x = one_hot(fetch()); student_view(x, g); teacher_view(x, g)
    def naive():
        x = one_hot(fetch()); naive_student_view(x.clone(), rng); naive_teacher_view(x, rng)

    rows = {"fetch only (sampler)": median_time(fetch, args.repeats),
            "pipeline (vectorised views)": median_time(pipeline, args.repeats),
            "naive per-sequence views": median_time(naive, max(1, args.repeats // 2))}
    from findna.model import resolve_precision
    precision = resolve_precision("auto", torch.device("cpu"))
    for preset in filter(None, args.presets.split(",")):
        rows[f"model step, {preset} preset ({precision})"] = \
            median_time(model_step_fn(preset, args.batch, args.length), 2)
    print(f"\n{'stage':<40}{'s/batch':>10}{'windows/s':>12}")
    for name, t in rows.items(): print(f"{name:<40}{t:>10.4f}{args.batch / t:>12.1f}")
    p = rows["pipeline (vectorised views)"]
    print(f"\npipeline / naive: {rows['naive per-sequence views'] / p:.1f}x faster (target >= 10x)")
    for name, t in rows.items():
        if name.startswith("model"): print(f"pipeline / {name}: {t / p:.1f}x faster than consumption (target >= 20x)")

if __name__ == "__main__":
    main()
