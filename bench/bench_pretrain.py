"""Pretraining step benchmark: the real `findna.trainer.train_step`, timed per preset and precision.

    python bench/bench_pretrain.py [--presets small,paper] [--precisions fp32,bf16] [--recipe findna] \
[--batch 16] [--steps 4]

Per step, timed on the CPU one after the other (so wall times add up):
  data     WindowSampler.batch: fetch + encode + N filter (pyfaidx, the bundled demo genome)
  step     train_step(s, windows, step): views, student forward/backward (micro-batches), teacher forward, clip,
           AdamW, EMA teacher, centre — exactly what a run does between log steps
  monitor  the same step with monitor=True (a log step: per-term gradient norms and collapse statistics on top)
Medians over `--steps` steps after one warm-up step; tokens/s counts the window's bases (not the CLS tokens).
bf16 is only fast on CPUs with AMX or AVX-512 BF16; the script prints whether this one has them (lscpu flags).
"""
import argparse, statistics, subprocess, sys, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from findna.genome import Genome, WindowSampler, demo_genome_path
from findna.model import FinDNAConfig, resolve_precision
from findna.trainer import Dist, PretrainConfig, build_state, train_step

def time_steps(preset:str, precision:str, batch:int, steps:int, recipe:str="findna") -> dict:
    "Median seconds of data, a plain step and a log (monitor) step of `preset` at `precision`."
    cfg = PretrainConfig(preset=preset, precision=precision, batch_size=batch, steps=2 * steps + 2, recipe=recipe)
    s = build_state(cfg, Dist())
    L = FinDNAConfig.preset(preset).max_len
    sampler = WindowSampler(Genome(demo_genome_path()), L, chroms=["chr20_a"], seed=0)
    times = {k: [] for k in ("data", "step", "monitor")}
    for step in range(2 * steps + 2):
        t0 = time.perf_counter()
        w = sampler.batch(step, batch)
        t1 = time.perf_counter()
        monitor = step % 2 == 1
        logs = train_step(s, w, step, monitor=monitor)
        float(logs["loss"])                                                # the sync point a log step has
        t2 = time.perf_counter()
        if step >= 2:                                                      # steps 0, 1: warm-up
            times["data"].append(t1 - t0); times["monitor" if monitor else "step"].append(t2 - t1)
    med = {k: statistics.median(v) for k, v in times.items()}
    return dict(preset=preset, precision=precision, batch=batch, tokens_per_s=batch * L / (med["data"] + med["step"]),
                data_share=med["data"] / (med["data"] + med["step"]), **med)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="small,paper")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--recipe", default="findna")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    fast = resolve_precision("auto", torch.device("cpu")) == "bf16"
    flags = subprocess.run(["bash", "-c",
                            "lscpu | grep -o 'avx512_bf16\\|amx_bf16\\|avx512f\\|avx2' | sort -u | tr '\\n' ' '"],
                           capture_output=True, text=True).stdout.strip()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, recipe {args.recipe}; "
          f"lscpu flags: {flags or '?'}; "
          f"fast bf16: {fast} (auto = {'bf16' if fast else 'fp32'})")
    print(f"{'preset':<7}{'prec':<6}{'batch':>6}{'data s':>9}{'step s':>9}{'log step s':>12}"
          f"{'tok/s':>9}{'data share':>12}")
    for preset in args.presets.split(","):
        for precision in args.precisions.split(","):
            r = time_steps(preset, precision, args.batch, args.steps, args.recipe)
            print(f"{preset:<7}{precision:<6}{r['batch']:>6}{r['data']:>9.3f}{r['step']:>9.3f}{r['monitor']:>12.3f}"
                  f"{r['tokens_per_s']:>9.0f}{r['data_share']:>11.1%}", flush=True)

if __name__ == "__main__":
    main()
