"""Benchmark the ChordMixer backbone: training-step throughput (forward + backward + AdamW), achieved GFLOP/s
against a dense matmul measured in the same run, and peak memory, for

  ours         findna.chordmixer.ChordMixer (fused layer; compiled kernels where they run, else torch's ops)
  ckpt         the same with grad_checkpoint=True (activation checkpointing: memory saving and time cost)
  eager        the same module with fused=False (eager autograd; with --eager)
  naive        a ChordMixer written the reference's way: Python loop of per-group torch.roll + cat
  floor        only the six matmuls of each layer, by the routines ours uses (torch's, or oneDNN's float32 linear
               where findna.chordmixer.onednn_linear() says so; no element-wise work, no autograd): an upper bound
  transformer  torch.nn.TransformerEncoder (pre-LN, GELU, d_model=E, 4 heads, FF=4E) with about the same
               number of parameters as the ChordMixer it is compared with

Rows: the paper backbone (L = 1000 + 10 CLS, E = 308, H = 512, 4 blocks of 10 layers, batch 4) for the
GFLOP/s target; the `small` preset's backbone (E = 132, H = 256, 2 blocks, batch 16), where the element-wise
work weighs more; bf16 autocast rows for both; then a length sweep (L = 1k, 4k, 16k, 64k; fp32 and bf16; ckpt rows in
fp32; the transformer up to --max-transformer-len) at a constant number of tokens per step, with
E = 308, H = 512, ceil(log2 L) layers per block and the reference's MTcDNA track sizes. The sweep uses one
block by default (--blocks), which keeps it to minutes: per-layer work is identical, so a 4-block network
runs at 1/4 of those tokens/s.

Each configuration runs in a fresh subprocess, so its peak RSS (VmHWM from /proc/self/status) is honest, without
address-space randomization (personality ADDR_NO_RANDOMIZE, as `setarch -R`). The peak memory of ours, naive and
ckpt comes from processes of their own under glibc's default allocator (--mem-malloc), the one users run: with every
block in the brk heap (--malloc tuned, which the timed processes use) the heap's high-water mark depends on its layout,
and one configuration's peak jumped from process to process (ours, paper backbone fp32: about 1,200, 1,400 or 1,500
MB, with or without address randomization; 1,176-1,200 MB in four processes under the default allocator, the
reference 1,399-1,443 MB under either);
the table shows the peak and the growth over the process after imports, and the minor page faults per step
(kfault, thousands: fresh memory touched by the allocator; see --malloc), and `cpu`: the CPU time the step got
divided by threads x wall time, about 1.0 on an idle machine and lower when other work shares the cores.

Step time: best of --steps timed steps (default 6) after --warmup warm-up steps (default 2; one when a step takes
over 30 s). The heap grows over the first two or three steps of a process (page faults on fresh memory), so the
steps timed are the steady state a training run lives in. The speed of ours and naive is measured **in one process
that runs both, their steps alternating** (ours, naive, naive, ours, ...): this shared 2-core VM switches between
fast and slow spells that last minutes (a 2048^3 matmul at 153-196 GFLOP/s within the hour, step times of one
process jumping by 20 % mid-run), which moved a row's ratio by ±8 % when ours and naive ran in separate processes;
alternating steps in one process puts both in the same spell. Their peak memory comes from fresh processes of their
own (--repeats each, median). The table's `x naive` is the ratio of the best steps, `x naive (paired)` the median
over the alternating rounds of naive's step time over ours' (the two steps of a round ran back to back, so a change of
spell between rounds cancels; the json also has `x_naive_median`, the ratio of the median steps); rerun at a quiet
moment: ratios measured side by side are more trustworthy than absolute figures.
`probe GFLOP/s` (min-max) is a 256x256 float32 matmul timed just before each of the pair's steps: it reads about 195
in a fast spell and 165-180 in a slow one, so a row whose probe range spans both was timed across a change. The spells
do not slow both implementations alike: ours keeps the MLP's (rows, H) pieces in the cache, which gains most when the
machine is fast, while the reference streams full tensors through memory and slows down less.

The first line names the machine (CPU, lscpu flags avx512_bf16 / amx, torch threads, whether ours runs the
compiled kernels (one-pass GELU backward, one-pass rotation) or torch's ops (FINDNA_GELU_KERNEL=0,
FINDNA_ROTATION_KERNEL=0 force the latter), whose float32 matmuls ours uses (oneDNN's linear or torch's;
FINDNA_ONEDNN=0 or 1 forces), load average); every ours and ckpt row shows ours/naive (tokens/s and
MB per 1k tokens, naive measured in the same run), and the table is written to results/bench/bench_model.{md,json}
(--out).

Usage:  python bench/bench_model.py --threads 2    (about 30 minutes on an idle 2-core machine)
        python bench/bench_model.py --quick        (under a minute: small shapes, one step)
"""
from __future__ import annotations
import argparse, json, math, os, platform, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_TRACK = {1024: 28, 4096: 24, 8192: 22, 16384: 20}       # MTcDNA configs of the reference
E, H, N_HEADS = 308, 512, 4


# ------------------------------------------------------------------------------------------- worker side

def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"): return int(line.split()[1])
    return -1


def transformer(E, n_layers):
    import torch.nn as nn
    layer = nn.TransformerEncoderLayer(E, N_HEADS, dim_feedforward=4 * E, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)


def _matmul_worker(spec):
    import torch
    dt = dict(fp32=torch.float32, bf16=torch.bfloat16)[spec["dtype"]]
    n = spec["n"]
    a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
    if spec.get("onednn"):                                               # float32 through oneDNN's linear: a @ b.T
        sys.path.insert(0, str(ROOT)); from findna.chordmixer import _linear
        mul = lambda: _linear(a, b)
    else: mul = lambda: a @ b
    mul()
    best, reps, t_end = math.inf, 0, time.perf_counter() + spec.get("budget_s", 3.0)
    while reps < 3 or (time.perf_counter() < t_end and reps < 20):
        t = time.perf_counter(); mul(); best = min(best, time.perf_counter() - t); reps += 1
    return dict(gflops=2 * n ** 3 / best / 1e9, reps=reps)


def _gemm_floor(spec):
    "The six matmuls of every ChordMixer layer (forward, input grad, weight grad) by ours' routines, fresh outputs."
    import torch
    sys.path.insert(0, str(ROOT)); from findna.chordmixer import _linear, onednn_linear
    N, E, H, layers = spec["B"] * spec["L"], spec["E"], spec["H"], spec["n_layers"] * spec["blocks"]
    x, dm, w1, w2 = torch.randn(N, E), torch.randn(N, E), torch.randn(H, E), torch.randn(E, H)
    a, da, b1, b2 = torch.randn(N, H), torch.randn(N, H), torch.randn(H), torch.randn(E)
    dnn = onednn_linear()[0]

    def step():
        for _ in range(layers):
            if dnn:                                                             # as the fused layer does
                _linear(x, w1, b1); _linear(a, w2, b2)                          # fc1, fc2
                _linear(dm, w2.t().contiguous()); _linear(da, w1.t().contiguous())   # dg, dx
            else:
                torch.addmm(b1, x, w1.t()); torch.addmm(b2, a, w2.t())          # fc1, fc2
                dm.mm(w2); da.mm(w1)                                            # dg, dx
            dm.t().mm(a); da.t().mm(x)                                          # dW2, dW1
    return step, 12 * E * H * layers, 0


def _build(spec):
    "The training step of one row: (step function, FLOPs per token, parameters)."
    import torch
    torch.manual_seed(0)
    L, B, g, n_layers, blocks, E, H = (spec[k] for k in ("L", "B", "g", "n_layers", "blocks", "E", "H"))
    if spec["impl"] == "floor":
        step, flops_per_token, n_params = _gemm_floor(spec)
    elif spec["impl"] in ("ours", "eager", "ckpt"):
        sys.path.insert(0, str(ROOT))
        import findna.chordmixer as cmm
        from findna.chordmixer import ChordMixer
        if spec.get("index_max_len") is not None: cmm.INDEX_MAX_LEN = spec["index_max_len"]   # A/B the rotation paths
        # A/B: 0 = one chunk
        if spec.get("chunk_rows") is not None: cmm.MLP_CHUNK_ROWS = spec["chunk_rows"] or 10 ** 12
        model = ChordMixer(E, g, H, n_layers, blocks, fused=spec["impl"] != "eager",
                           grad_checkpoint=spec["impl"] == "ckpt")
        flops_per_token = 12 * E * H * n_layers * blocks                  # 2 matmuls x 2EH, x3 for fwd+bwd
    elif spec["impl"] == "naive":
        # the one reference copy
        sys.path.insert(0, str(ROOT / "tests")); from reference_swandna import naive_chordmixer
        model = naive_chordmixer(E, g, H, n_layers, blocks)
        flops_per_token = 12 * E * H * n_layers * blocks
    else:
        model = transformer(E, spec["tf_layers"])
        dense = 2 * (4 * E * E + 2 * E * 4 * E)                           # projections + FFN, forward
        flops_per_token = 3 * (dense + 4 * L * E) * spec["tf_layers"]      # + QK^T and AV, forward; x3
    if spec["impl"] != "floor":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
        x = torch.randn(B, L, E, requires_grad=True)                         # as if from an embedding
        bf16, n_params = spec["dtype"] == "bf16", sum(p.numel() for p in model.parameters())

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                y = model(x)
            y.float().square().mean().backward()
            opt.step(); opt.zero_grad(set_to_none=True); x.grad = None
    return step, flops_per_token, n_params


def _warm_up(step, warmup:int) -> float:
    "Untimed steps (the heap settles over the first ones; only one when a step takes over 30 s): the first's seconds."
    t = time.perf_counter(); step(); warm = time.perf_counter() - t
    for _ in range(warmup - 1 if warm < 30 else 0): step()
    return warm


def _model_worker(spec):
    import resource, torch
    base_kb = _status_kb("VmRSS")
    step, flops_per_token, n_params = _build(spec)
    L, B = spec["L"], spec["B"]
    warm = _warm_up(step, spec.get("warmup", 1))
    times, cpu, faults = [], [], resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(spec["steps"] if warm < 60 else (1 if warm < 150 else 0)):
        t, c = time.perf_counter(), time.process_time(); step()
        times.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / max(1, len(times))
    step_s = min(times) if times else warm
    share = cpu[times.index(step_s)] / torch.get_num_threads() / step_s if times else float("nan")
    return dict(step_s=step_s, n_timed=len(times), warmup_s=warm, tokens_per_s=B * L / step_s,
                gflops=flops_per_token * B * L / step_s / 1e9, flops_per_token=flops_per_token,
                params=n_params, page_faults_per_step=faults, cpu_share=share,
                base_mb=base_kb / 1024, peak_mb=_status_kb("VmHWM") / 1024, threads=torch.get_num_threads())


def _probe_gflops(a, b, n:int=40) -> float:
    "GFLOP/s of a small matmul that stays in the cache: how fast the machine is at this moment (~10 ms)."
    t = time.perf_counter()
    for _ in range(n): a @ b
    return n * 2 * a.shape[0] * a.shape[1] * b.shape[1] / (time.perf_counter() - t) / 1e9


def _probe_range(r) -> str:
    "The row's probe as 'min–max' GFLOP/s, or '' when it was not timed in a pair."
    return "–".join(format(v, ".0f") for v in r["probe_gflops"][::2]) if "probe_gflops" in r else ""


def _pair_worker(spec):
    "ours and naive in one process, their steps alternating (ABBA...): at every moment both see the same machine."
    import statistics, torch
    builds = [_build(s) for s in spec["specs"]]
    for step, _, _ in builds: _warm_up(step, spec["warmup"])
    times, cpu, probes = [[] for _ in builds], [[] for _ in builds], []
    pa, pb = torch.randn(256, 256), torch.randn(256, 256)
    for k in range(spec["steps"]):
        for i in (range(len(builds)) if k % 2 == 0 else reversed(range(len(builds)))):
            probes.append(_probe_gflops(pa, pb))                     # the machine's speed just before this step
            t, c = time.perf_counter(), time.process_time(); builds[i][0]()
            times[i].append(time.perf_counter() - t); cpu[i].append(time.process_time() - c)
    out = []
    for ts, cs in zip(times, cpu):
        best = min(ts)
        out.append(dict(step_s=best, step_s_median=statistics.median(ts), step_s_all=[round(t, 4) for t in ts],
                        cpu_share=cs[ts.index(best)] / torch.get_num_threads() / best,
                        probe_gflops=[round(v, 1) for v in (min(probes), statistics.median(probes), max(probes))]))
    return out


def _profile(lengths, threads, out):
    "Per-op profile (torch.profiler, self CPU time and allocated memory) of one layer's training step, ours and naive."
    import torch
    from torch.profiler import profile, ProfilerActivity
    sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "tests"))
    from findna.chordmixer import ChordMixer
    from reference_swandna import naive_chordmixer
    if threads: torch.set_num_threads(threads)
    text = [f"# one ChordMixer layer, forward + backward, 3 steps after a warm-up; {torch.get_num_threads()} threads; "
            f"load average {os.getloadavg()[0]:.2f}"]
    for L in lengths:
        B, g = max(1, 16384 // L), REFERENCE_TRACK.get(L, E // (math.ceil(math.log2(L)) + 1))
        for dt in ("fp32", "bf16"):
            for impl in ("ours", "naive"):
                torch.manual_seed(0)
                model = ChordMixer(E, g, H, 1, 1) if impl == "ours" else naive_chordmixer(E, g, H, 1, 1)
                x = torch.randn(B, L, E, requires_grad=True)
                def step():
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dt == "bf16"): y = model(x)
                    y.float().square().mean().backward()
                step()
                with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
                    for _ in range(3): step()
                text += [f"\n## L={L} B={B} g={g} {dt} {impl}",
                         prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10,
                                                   max_name_column_width=34)]
                print(text[-2], flush=True); print(text[-1], flush=True)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True); Path(out).write_text("\n".join(text) + "\n")
        print(f"# wrote {out}")


# ------------------------------------------------------------------------------------------- driver side

# glibc ignores an mmap threshold above 32 MB (HEAP_MAX_SIZE / 2 on 64-bit), so a threshold cannot keep a 33 MB
# activation out of mmap; MALLOC_MMAP_MAX_=0 can (every block comes from the heap, freed blocks are reused).
MALLOC_TUNED = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "68719476736"}

ADDR_NO_RANDOMIZE = 0x0040000

def _fixed_layout():
    "In a worker before exec: no address-space randomization, so its heap (and peak RSS) is laid out alike every run."
    import ctypes
    libc = ctypes.CDLL(None)
    current = libc.personality(0xFFFFFFFF)                               # query
    if current != -1: libc.personality(current | ADDR_NO_RANDOMIZE)


def _run(spec, timeout, threads=None, malloc="default"):
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}),
               **(MALLOC_TUNED if malloc == "tuned" else {}))
    try:
        p = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True,
                           timeout=timeout, cwd=ROOT, env=env, preexec_fn=_fixed_layout)
    except subprocess.TimeoutExpired:
        return dict(error=f"timeout after {timeout} s")
    if p.returncode != 0:
        return dict(error=(p.stderr.strip().splitlines() or ["?"])[-1][:90])
    return json.loads(p.stdout.strip().splitlines()[-1])


def _run_once(spec, args, malloc=None):
    "One fresh process; rerun it (keep the faster) when it got under 90 % of its cores."
    r = _run(spec, args.timeout, args.threads, malloc or args.malloc)
    for _ in range(args.retries):                                # the row shared its cores: measure it again
        if "error" in r or r["cpu_share"] >= 0.9: break
        again = _run(spec, args.timeout, args.threads, malloc or args.malloc)
        if "error" not in again and again["step_s"] < r["step_s"]: r = again
    return r


def _measure(spec, args, malloc=None):
    "One row in fresh processes: --repeats of them for ours and naive (median), one for the others."
    n = args.repeats if spec["impl"] in ("ours", "naive") else 1
    return _summarise(spec, [_run_once(spec, args, malloc) for _ in range(n)])


def _memory_apart(spec, args, r):
    "A timed row's peak memory replaced by that of a process of its own under --mem-malloc (as ours' and naive's)."
    m = _measure(dict(spec, steps=1), args, args.mem_malloc)
    if "error" not in r and "error" not in m:
        r.update(peak_mb=m["peak_mb"], base_mb=m["base_mb"], mem_malloc=args.mem_malloc)
    return r


def _paired_ratio(ours, naive) -> float|None:
    "Median over the alternating rounds of naive's step time / ours' (each round ran both back to back), or None."
    o, n = ours.get("step_s_all"), naive.get("step_s_all")
    if not o or not n or len(o) != len(n) or ours.get("speed_from") != "one process, alternating": return None
    return statistics.median(b / a for a, b in zip(o, n))


def _measure_pair(pair, args):
    "ours and its naive row: peak memory from fresh processes of their own, speed from one process running both."
    mem = [dict(_measure(dict(s, steps=1), args, args.mem_malloc), mem_malloc=args.mem_malloc) for s in pair]
    if any("error" in m for m in mem): return mem
    speed = _run(dict(impl="pair", specs=pair, steps=args.steps, warmup=args.warmup), 3 * args.timeout, args.threads,
                 args.malloc)
    if isinstance(speed, dict): return [dict(error=f"pair: {speed['error']}")] * 2
    for m, sp, s in zip(mem, speed, pair):
        m.update(sp, n_timed=len(sp["step_s_all"]), tokens_per_s=s["B"] * s["L"] / sp["step_s"],
                 gflops=m["flops_per_token"] * s["B"] * s["L"] / sp["step_s"] / 1e9,
                 speed_from="one process, alternating")
    return mem


def _summarise(spec, runs):
    "The median process of a row (by step time), with the median peak memory."
    ok = sorted((r for r in runs if "error" not in r), key=lambda r: r["step_s"])
    if not ok: return runs[0]
    med = lambda k: sorted(r[k] for r in ok)[len(ok) // 2]
    r = dict(ok[len(ok) // 2], peak_mb=med("peak_mb"), base_mb=med("base_mb"), repeats=len(ok),
             step_s_runs=[round(r["step_s"], 4) for r in runs if "error" not in r])
    r.update(tokens_per_s=spec["B"] * spec["L"] / r["step_s"],
             gflops=r["flops_per_token"] * spec["B"] * spec["L"] / r["step_s"] / 1e9)
    return r


def _mem_available_mb():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"): return int(line.split()[1]) / 1024
    return math.inf


def _estimate_mb(spec):
    "Rough activation memory of a training step (what autograd keeps), to skip rows that cannot fit."
    tokens, layers, E, H = spec["B"] * spec["L"], spec["n_layers"] * spec["blocks"], spec["E"], spec["H"]
    per_token_layer = {"floor": 0, "ours": E + 2 * H, "ckpt": E + 2 * H, "eager": 2 * E + 2 * H, "naive": 4 * E + 2 * H,
                       "transformer": 8 * E + 2 * 4 * E}[spec["impl"]] * 4
    if spec["impl"] == "transformer": layers = spec["tf_layers"]
    return tokens * layers * per_token_layer / 2 ** 20


def _tf_layers(n_layers, blocks, E=E, H=H):
    p_cm = n_layers * blocks * (2 * E * H + H + E)
    p_tf = 4 * E * E + 4 * E + 2 * E * 4 * E + 4 * E + E + 4 * E     # attention, FFN, two LayerNorms
    return max(1, round(p_cm / p_tf))


def _spec(impl, dtype, L, B, blocks, steps, n_layers=None, g=None, name="", E=E, H=H):
    n = n_layers or math.ceil(math.log2(L))
    s = dict(impl=impl, dtype=dtype, L=L, B=B, g=g or REFERENCE_TRACK.get(L, E // (n + 1)), n_layers=n, blocks=blocks,
             steps=steps, name=name or f"L={L}", E=E, H=H)
    if impl == "transformer": s["tf_layers"] = _tf_layers(n, blocks, E, H)
    return s


def _write_table(out:Path, machine, load_end, peaks, rows, args):
    "The table as markdown and json (machine line, every row, ratios to naive)."
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = ("config", "impl", "dtype", "L", "B", "s/step", "tok/s", "GFLOP/s", "peak MB", "MB/ktok", "cpu", "x naive",
            "x naive (paired)", "mem/naive", "probe GFLOP/s")
    lines = [f"# bench_model", "", f"Machine: {machine}", "",
             f"Dense matmul peak: fp32 {peaks['fp32']:.1f} GFLOP/s" + (f" (oneDNN's linear {peaks['fp32 oneDNN']:.1f})"
             if "fp32 oneDNN" in peaks else "") + f", bf16 {peaks['bf16']:.1f} GFLOP/s. Load average at the "
             f"end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}. Command: `python bench/bench_model.py "
             f"{' '.join(sys.argv[1:])}`", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for s, r in rows:
        if "error" in r:
            lines.append(f"| {s['name']} | {s['impl']} | {s['dtype']} | {s['L']} | {s['B']} | {r['error']} |"
                         + " |" * 9)
            continue
        f = lambda k, fmt: format(r[k], fmt) if k in r else ""
        lines.append(f"| {s['name']} | {s['impl']} | {s['dtype']} | {s['L']} | {s['B']} | {r['step_s']:.2f} | "
                     f"{r['tokens_per_s']:.0f} | {r['gflops']:.1f} | {r['peak_mb']:.0f} | {r['mb_per_ktok']:.1f} | "
                     f"{r['cpu_share']:.2f} | {f('x_naive', '.2f')} | {f('x_naive_paired', '.2f')} | "
                     f"{f('mem_vs_naive', '.2f')} | {_probe_range(r)} |")
    tmp = out.with_suffix(".md.tmp"); tmp.write_text("\n".join(lines) + "\n"); os.replace(tmp, out.with_suffix(".md"))
    data = dict(machine=machine, load_average_end=load_end, matmul_peak_gflops=peaks, args=args,
                rows=[dict(spec=s, result=r) for s, r in rows])
    tmp = out.with_suffix(".json.tmp"); tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, out.with_suffix(".json"))
    print(f"# wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small batches and lengths, one timed step: about a minute")
    ap.add_argument("--tokens", type=int, default=16384, help="tokens per step in the length sweep (B = tokens // L)")
    ap.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384, 65536])
    ap.add_argument("--blocks", type=int, default=1, help="blocks in the length sweep (the paper row always has 4)")
    ap.add_argument("--steps", type=int, default=6,
                    help="timed steps after the warm-up (best is reported); for ours and naive, steps of each, "
                         "alternating")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (the heap settles over the first steps)")
    ap.add_argument("--bf16", choices=["auto", "on", "off"], default="auto",
                    help="bf16 autocast rows: auto = full rows only where the CPU has native bf16 (else one probe row)")
    ap.add_argument("--max-transformer-len", type=int, default=4096, help="skip the transformer above this length")
    ap.add_argument("--eager", action="store_true",
                    help="also run the eager (fused=False) rows of the paper/small configs")
    ap.add_argument("--no-ckpt", action="store_true", help="skip the activation-checkpointing rows of the sweep")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "bench_model"),
                    help="write the table to OUT.md and OUT.json ('' to skip)")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per configuration")
    ap.add_argument("--rows", default="all", help="comma-separated subset: paper, small, sweep (default: all)")
    ap.add_argument("--retries", type=int, default=1, help="rerun a row whose cpu share was below 0.9 (keep the best)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads in every worker (default: torch's choice)")
    ap.add_argument("--malloc", choices=["tuned", "default"], default="tuned",
                    help="tuned: keep freed memory in the glibc heap (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_), so "
                         "each step does not page-fault its activations in again; applied to every implementation")
    ap.add_argument("--mem-malloc", choices=["tuned", "default"], default="default",
                    help="allocator of the processes that measure ours', naive's and ckpt's peak memory (default: "
                         "glibc's default, what users run; the tuned heap's high-water mark depends on its layout)")
    ap.add_argument("--profile", type=int, nargs="+", metavar="L",
                    help="only profile one layer per op at these lengths (ours and naive, fp32 and bf16), "
                         "write OUT-profile.txt")
    ap.add_argument("--index-max-len", type=int, default=None,
                    help="override findna.chordmixer.INDEX_MAX_LEN in ours/ckpt/eager rows (gather up to it, "
                         "block copies beyond): 0 forces block copies, a huge value the gather index everywhere")
    ap.add_argument("--chunk-rows", type=int, default=None,
                    help="override findna.chordmixer.MLP_CHUNK_ROWS in ours/ckpt/eager rows (0: the MLP in one piece)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="fresh processes per ours and naive row for the peak memory (the table shows the median)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.profile:
        _profile(args.profile, args.threads, args.out and args.out + "-profile.txt"); return
    if args.worker:
        spec = json.loads(args.worker)
        work = dict(matmul=_matmul_worker, pair=_pair_worker).get(spec["impl"], _model_worker)
        print(json.dumps(work(spec)))
        return

    import torch
    try: native_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception: native_bf16 = False
    full_bf16 = args.bf16 == "on" or (args.bf16 == "auto" and native_bf16)
    if args.quick: args.tokens, args.lengths, args.steps, args.warmup, args.repeats = 2048, [256, 1024], 1, 1, 1
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    flags = set(next((l.split(":", 1)[1].split() for l in Path("/proc/cpuinfo").read_text().splitlines()
                      if l.startswith("flags")), []))
    isa = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags) or "none listed"
    sys.path.insert(0, str(ROOT)); from findna.chordmixer import kernels, onednn_linear
    fns, why = kernels()                                             # built here once, so no worker compiles it
    kernel = "compiled" if fns else f"not used ({why})"
    dnn, dnn_why = onednn_linear()
    load0 = os.getloadavg()
    machine = (f"{time.strftime('%Y-%m-%d %H:%M')}  torch {torch.__version__}  CPU: {cpu}, {os.cpu_count()} cores; "
               f"lscpu flags: {isa}; native bf16 (oneDNN): {native_bf16}; {args.threads or torch.get_num_threads()} "
               f"torch threads; precision: fp32 and bf16 autocast{'' if full_bf16 else ' (bf16 probe rows only)'}; "
               f"compiled kernels (ours: GELU backward, rotation): {kernel}; ours' float32 matmuls: "
               f"{'oneDNN' if dnn else 'torch'} ({dnn_why}); workers without address randomization; "
               f"load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    print(f"# bench_model  {machine}")
    print(f"# length sweep: {args.tokens} tokens/step, {args.blocks} block(s); "
          f"steps: best of {args.steps} after {args.warmup} warm-up; "
          f"malloc: {args.malloc} (speed), {args.mem_malloc} (memory)")

    peaks = {}
    for dt in ("fp32", "bf16"):
        n = 2048 if (dt == "fp32" or native_bf16) else 512
        r = _run(dict(impl="matmul", dtype=dt, n=n), args.timeout, args.threads, args.malloc)
        peaks[dt] = r.get("gflops", float("nan"))
        print(f"# dense matmul {n}^3 {dt}: {peaks[dt]:,.1f} GFLOP/s")
    if dnn:                                                          # the routine ours' float32 layers use
        r = _run(dict(impl="matmul", dtype="fp32", n=2048, onednn=True), args.timeout, args.threads, args.malloc)
        peaks["fp32 oneDNN"] = r.get("gflops", float("nan"))
        print(f"# dense matmul 2048^3 fp32 by oneDNN's linear: {peaks['fp32 oneDNN']:,.1f} GFLOP/s")

    paper_B, small_B = (1, 2) if args.quick else (4, 16)
    paper = dict(n_layers=10, g=28, name="paper")
    small = dict(n_layers=10, g=12, name="small", E=132, H=256)
    impls = ("floor", "ours", "eager", "naive") if args.eager else ("floor", "ours", "naive")
    specs = [_spec(i, "fp32", 1010, paper_B, 4, args.steps, **paper) for i in impls]
    specs += [_spec(i, "fp32", 1010, small_B, 2, args.steps, **small) for i in impls]
    if full_bf16 or (args.bf16 == "auto" and not args.quick):   # without native bf16: one probe row per impl, batch 1
        B, steps = (paper_B, args.steps) if full_bf16 else (1, 1)
        specs += [_spec(i, "bf16", 1010, B, 4, steps, **paper) for i in ("ours", "naive")]
        specs += [_spec(i, "bf16", 1010, B if full_bf16 else 2, 2, steps, **small) for i in ("ours", "naive")]
    for L in args.lengths:
        B = max(1, args.tokens // L)
        specs += [_spec(i, "fp32", L, B, args.blocks, args.steps) for i in ("ours", "naive")]
        if not args.no_ckpt: specs.append(_spec("ckpt", "fp32", L, B, args.blocks, args.steps))
        if L <= args.max_transformer_len: specs.append(_spec("transformer", "fp32", L, B, args.blocks, args.steps))
        if full_bf16:
            specs += [_spec(i, "bf16", L, B, args.blocks, args.steps) for i in ("ours", "naive")]

    for s in specs: s["index_max_len"], s["chunk_rows"], s["warmup"] = args.index_max_len, args.chunk_rows, args.warmup
    if args.rows != "all":
        keep = set(args.rows.split(","))
        specs = [s for s in specs if s["name"] in keep or ("sweep" in keep and s["name"].startswith("L="))]
    head = (f"{'config':7s} {'impl':12s} {'dtype':5s} {'L':>6s} {'B':>3s} {'layers':>7s} {'params':>7s} "
            f"{'s/step':>7s} {'tok/s':>8s} "
            f"{'GFLOP/s':>8s} {'%peak':>6s} {'peak MB':>8s} {'+MB':>7s} {'MB/ktok':>8s} {'kfault':>6s} {'cpu':>4s} "
            f"{'x naive':>7s} {'mem/naive':>9s}")
    print(head); print("-" * len(head))
    rows, done = [], {}
    for s in specs:
        est = _estimate_mb(s)
        if est > 0.8 * _mem_available_mb():
            r = dict(error=f"skipped: needs ~{est / 1024:.0f} GB, {_mem_available_mb() / 1024:.0f} GB available")
        elif id(s) in done:
            r = done.pop(id(s))                                  # measured beside its ours row
        else:
            pair = [s] + [n for n in specs if s["impl"] == "ours" and n["impl"] == "naive"
                          and (n["name"], n["dtype"]) == (s["name"], s["dtype"])]
            r, *rest = _measure_pair(pair, args) if len(pair) == 2 else [_measure(s, args)]
            if s["impl"] == "ckpt": r = _memory_apart(s, args, r)
            done.update({id(n): rn for n, rn in zip(pair[1:], rest)})
        rows.append((s, r))
        layers = f"{s['tf_layers']}" if s["impl"] == "transformer" else f"{s['blocks']}x{s['n_layers']}"
        pre = f"{s['name']:7s} {s['impl']:12s} {s['dtype']:5s} {s['L']:6d} {s['B']:3d} {layers:>7s}"
        if "error" in r: print(f"{pre}  {r['error']}", flush=True); continue
        grow = r["peak_mb"] - r["base_mb"]
        r["mb_per_ktok"] = 1000 * grow / (s["B"] * s["L"])
        print(f"{pre} {r['params'] / 1e6:6.2f}M {r['step_s']:7.2f} {r['tokens_per_s']:8.0f} {r['gflops']:8.1f} "
              f"{100 * r['gflops'] / peaks[s['dtype']]:5.0f}% {r['peak_mb']:8.0f} {grow:7.0f} "
              f"{r['mb_per_ktok']:8.1f} {r['page_faults_per_step'] / 1000:6.1f} {r['cpu_share']:4.2f}"
              f"{'' if r['n_timed'] else '  (warm-up step only)'}", flush=True)
        if s["impl"] == "naive":                                   # now the ratios of the rows measured before it
            for s2, r2 in rows:
                if s2["impl"] in ("ours", "ckpt", "eager") and (s2["name"], s2["dtype"]) == (s["name"], s["dtype"]) \
                        and "error" not in r2:
                    r2["x_naive"], r2["mem_vs_naive"] = (r2["tokens_per_s"] / r["tokens_per_s"],
                                                         r2["mb_per_ktok"] / r["mb_per_ktok"])
                    if "step_s_median" in r2 and "step_s_median" in r:
                        r2["x_naive_median"] = r["step_s_median"] / r2["step_s_median"]
                    if (paired := _paired_ratio(r2, r)) is not None: r2["x_naive_paired"] = paired
                    parts = [f"paired: {r2['x_naive_paired']:.2f}x"] if "x_naive_paired" in r2 else []
                    if "x_naive_median" in r2: parts.append(f"medians: {r2['x_naive_median']:.2f}x")
                    med = f" ({', '.join(parts)})" if parts else ""
                    if "probe_gflops" in r2: med += f", probe {_probe_range(r2)} GFLOP/s"
                    print(f"{'':7s}   {s2['impl']:10s} {s2['dtype']:5s} {s2['L']:6d}  ours/naive: {r2['x_naive']:.2f}x "
                          f"tokens/s{med}, {r2['mem_vs_naive']:.2f}x memory per 1k tokens", flush=True)

    def get(impl, dtype, name):
        for s, r in rows:
            if (s["impl"], s["dtype"], s["name"]) == (impl, dtype, name) and "error" not in r: return r
        return None

    print("\n# summary")
    for name, dt in [(n, d) for n in ("paper", "small") for d in ("fp32", "bf16")]:
        o, n, e, f = get("ours", dt, name), get("naive", dt, name), get("eager", dt, name), get("floor", dt, name)
        if o and f: print(f"{name} backbone {dt}: the matmuls alone run at {100 * f['gflops'] / peaks[dt]:.0f}% of the "
                          f"peak; ours reaches {100 * o['gflops'] / f['gflops']:.0f}% of that floor"
                          + (f", naive {100 * n['gflops'] / f['gflops']:.0f}%" if n else ""))
        if o: print(f"{name} backbone {dt}: ours {o['gflops']:.1f} GFLOP/s = "
                    f"{100 * o['gflops'] / peaks[dt]:.0f}% of the "
                    f"{dt} matmul peak ({peaks[dt]:.1f})"
                    + (f"; naive {100 * n['gflops'] / peaks[dt]:.0f}%" if n else "")
                    + (f"; ours/naive {o['tokens_per_s'] / n['tokens_per_s']:.2f}x" if n else "")
                    + (f"; ours/eager {o['tokens_per_s'] / e['tokens_per_s']:.2f}x" if e else ""))
    for L in args.lengths:
        o, n, t = (get(i, "fp32", f"L={L}") for i in ("ours", "naive", "transformer"))
        if not o: continue
        msg = f"L={L:6d} fp32: ours {o['tokens_per_s']:.0f} tok/s"
        if n: msg += f", {o['tokens_per_s'] / n['tokens_per_s']:.2f}x naive"
        if t: msg += f", {o['tokens_per_s'] / t['tokens_per_s']:.2f}x transformer"
        ob, nb = get("ours", "bf16", f"L={L}"), get("naive", "bf16", f"L={L}")
        if ob and nb: msg += f"; bf16 ours/naive {ob['tokens_per_s'] / nb['tokens_per_s']:.2f}x"
        msg += (f"; ours memory {1000 * (o['peak_mb'] - o['base_mb']) / (L * max(1, args.tokens // L)):.1f} "
                "MB per 1k tokens")
        print(msg)
    for L in args.lengths:
        o, n, c = (get(i, "fp32", f"L={L}") for i in ("ours", "naive", "ckpt"))
        if o and c: print(f"L={L:6d} fp32 activation checkpointing: memory per 1k tokens {c['mb_per_ktok']:.1f} MB vs "
                          f"{o['mb_per_ktok']:.1f} ({100 * (1 - c['mb_per_ktok'] / o['mb_per_ktok']):.0f}% less), "
                          f"time per step {c['step_s'] / o['step_s']:.2f}x")
    load1 = os.getloadavg()
    print(f"# load average at the end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} "
          "(other work on the machine slows every row)")
    if args.out: _write_table(Path(args.out), machine, load1, peaks, rows, vars(args))
    if not full_bf16:
        print("note: this CPU has no native bf16 (oneDNN reports none): bf16 matmuls run through a slow fallback, "
              "so the bf16 rows are one probe each at batch 1; rerun with --bf16 on to force the full set.")


if __name__ == "__main__":
    main()
