"""Embed one long record: time and peak memory of `findna.model.embed` for a 100 kb and a 1 Mb record with a
`small`-preset FinDNA whose max_len covers it (random weights: speed and memory do not depend on them).

Each measurement runs in a fresh process (peak RSS = VmHWM) on --threads torch threads. `embed` passes the record's
length to the backbone; a single unpadded record takes the shared rotation (block copies beyond 2k positions).
The growth in peak memory per base extrapolates to the longest record a machine with --ram GB can embed.
--old measures the rotation used before issue 27 (a per-row gather index built for every forward pass).

Usage:  python bench/bench_long.py                         (100 kb and 1 Mb, precision auto, 2 threads)
        python bench/bench_long.py --lengths 100000 --precision fp32 bf16 --old
"""
from __future__ import annotations
import argparse, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _status_kb(field:str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"): return int(line.split()[1])
    return -1


def _worker(spec:dict) -> dict:
    import numpy as np, torch
    sys.path.insert(0, str(ROOT))
    import findna.chordmixer as cmm
    from findna.model import FinDNA, FinDNAConfig, embed, resolve_precision
    if spec["old"]:
        cmm.rotation_plan = lambda L, E, g, lengths=None, device=None: cmm.rotation_index(L, E, g, lengths, device)
    torch.set_num_threads(spec["threads"])
    L = spec["L"]
    seq = "".join(np.random.default_rng(0).choice(list("ACGT"), L))
    model = FinDNA(FinDNAConfig.preset("small", max_len=L), seed=0)
    c = model.config
    base = _status_kb("VmRSS")
    t = time.perf_counter()
    x = embed(model, [seq], batch_size=1, pooling="mean", precision=spec["precision"], verbose=False)
    wall = time.perf_counter() - t
    assert x.shape == (1, c.embed_dim) and np.isfinite(x).all()
    return dict(L=L, embed_dim=c.embed_dim, layers=c.n_layers * c.n_blocks, hidden_dim=c.hidden_dim,
                precision=resolve_precision(spec["precision"], torch.device("cpu")), threads=torch.get_num_threads(),
                wall_s=wall, bases_per_s=L / wall, base_mb=base / 1024, peak_mb=_status_kb("VmHWM") / 1024,
                growth_mb=(_status_kb("VmHWM") - base) / 1024, old=spec["old"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--precision", nargs="+", default=["auto"], choices=["auto", "bf16", "fp32"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ram", type=float, default=16, help="GB of RAM of the machine to extrapolate to")
    ap.add_argument("--old", action="store_true", help="also measure the pre-issue-27 rotation (per-row gather index)")
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "bench_long"),
                    help="OUT.md and OUT.json ('' skips)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker)))); return
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "?")
    flags = set(next((l.split(":", 1)[1].split() for l in Path("/proc/cpuinfo").read_text().splitlines()
                      if l.startswith("flags")), []))
    isa = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags)
    la = os.getloadavg()
    machine = (f"{time.strftime('%Y-%m-%d %H:%M')}  CPU: {cpu}, {os.cpu_count()} cores; lscpu flags: {isa}; "
               f"{args.threads} torch threads; load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
    print(f"# bench_long  {machine}")
    head = (f"{'L':>9s} {'rotation':9s} {'prec':5s} {'E':>4s} {'layers':>6s} {'s':>8s} {'bases/s':>9s} "
            f"{'peak MB':>8s} {'+MB':>7s} {'KB/base':>8s}")
    print(head); print("-" * len(head))
    rows = []
    for L in args.lengths:
        for prec in args.precision:
            for old in ((False, True) if args.old else (False,)):
                spec = dict(L=L, precision=prec, threads=args.threads, old=old)
                try:
                    p = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True,
                                       text=True, timeout=args.timeout, cwd=ROOT,
                                       env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
                    r = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else \
                        dict(error=(p.stderr.strip().splitlines() or ["?"])[-1][:100])
                except subprocess.TimeoutExpired: r = dict(error=f"timeout after {args.timeout} s")
                rows.append((spec, r))
                rot = "old-index" if old else "ours"
                if "error" in r: print(f"{L:9d} {rot:9s} {prec:5s}  {r['error']}", flush=True); continue
                print(f"{L:9d} {rot:9s} {r['precision']:5s} {r['embed_dim']:4d} {r['layers']:6d} {r['wall_s']:8.1f} "
                      f"{r['bases_per_s']:9.0f} {r['peak_mb']:8.0f} {r['growth_mb']:7.0f} "
                      f"{1024 * r['growth_mb'] / L:8.2f}",
                      flush=True)
    ok = [(s, r) for s, r in rows if "error" not in r and not s["old"]]
    notes = []
    if ok:
        s, r = max(ok, key=lambda sr: sr[0]["L"])
        kb = 1024 * r["growth_mb"] / r["L"]
        usable = 0.6 * args.ram * 1024 - r["base_mb"]             # leave 40% to the OS, the browser, the rest
        notes.append(f"{args.ram:.0f} GB machine: the peak grows by {kb:.2f} KB per base "
                     f"({r['precision']}, L={r['L']:,}); with 60% of the RAM for findna, one record of about "
                     f"{usable * 1024 / kb / 1e6:.1f} Mb embeds in one pass (E and the layer count grow only with "
                     f"log2 L); at {r['bases_per_s']:,.0f} bases/s that takes "
                     f"about {usable * 1024 / kb / r['bases_per_s'] / 60:.0f} min on {args.threads} threads.")
    la = os.getloadavg()
    notes.append(f"load average at the end: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
    for n in notes: print("# " + n)
    if args.out:
        out = Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
        lines = ["# bench_long", "", f"Machine: {machine}", "",
                 f"Command: `python bench/bench_long.py {' '.join(sys.argv[1:])}`", "",
                 "| L | rotation | precision | E | layers | s | bases/s | peak MB | +MB | KB/base |", "|---" * 10 + "|"]
        for s, r in rows:
            rot = "old-index" if s["old"] else "ours"
            if "error" in r:
                lines.append(f"| {s['L']} | {rot} | {s['precision']} | {r['error']} |" + " |" * 6); continue
            lines.append(f"| {r['L']} | {rot} | {r['precision']} | {r['embed_dim']} | {r['layers']} | "
                         f"{r['wall_s']:.1f} | {r['bases_per_s']:.0f} | {r['peak_mb']:.0f} | {r['growth_mb']:.0f} | "
                         f"{1024 * r['growth_mb'] / r['L']:.2f} |")
        lines += [""] + notes
        out.with_suffix(".md").write_text("\n".join(lines) + "\n")
        out.with_suffix(".json").write_text(json.dumps(dict(machine=machine, notes=notes,
                                                            rows=[dict(spec=s, result=r) for s, r in rows]), indent=1))
        print(f"# wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
