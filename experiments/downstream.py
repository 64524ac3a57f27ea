"""The downstream verdict: the k-mer floor vs the `small` network from scratch vs pretrained networks, \
on the shared tasks.

    python experiments/downstream.py --regime labels500 --arms scratch --threads 1     # one arm (resumable)
    python experiments/downstream.py --regime labels500 --report-only                  # table, plot, reading

Every (regime, arm) is one `findna.evaluation.evaluate_grid` folder, `<regime>/<arm>/` here (resumable cell by cell:
a finished cell is read back, so arms can run in parallel processes and across sessions). The floor is computed in the
`scratch` grid, on exactly the same splits. `--report-only` (and the end of every run) combines the arms of a regime
into `<regime>/results.md`, `results.csv`, `cells.csv`, `fingerprints.json`, `results.png`, `curves.png` (validation
curves of every deep cell), `reading.md` and `budget.md` (CPU time actually spent, per arm). Only `results.json`, \
`metrics.jsonl`, `predictions.npz` and the
curves of each cell are committed (the fine-tuned weights are not: see .gitignore).
"""
import argparse, json, os, sys
from pathlib import Path
import pandas as pd
import matplotlib.pyplot as plt
from findna.runs import read_jsonl
from findna.config import split_commas
from findna.evaluation import (EvalConfig, aggregate_results, arm_order, cell_row, compare_arms, contrasts,
                               evaluate_grid, write_evaluation_report)

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "results" / "downstream"     # what this study writes
DATA = Path(os.environ.get("FINDNA_DATA", ROOT.parent / "shared" / "data")).resolve()

# Every shared task with a train split, then the two dev-trained EMP tasks (trained on dev, labelled so).
ALL = ("prom_core_all,prom_core_notata,prom_core_tata,prom_300_tata,tf0,tf1,tf2,tf3,tf4,"
       "human_nontata_promoters,human_enhancers_cohn,H3,H4")
# The 2,000-label regime: six tasks with at least 4,000 training sequences, fixed before any result was seen
# (two promoter sets, two TF sets, the two GenomicBenchmarks sets).
SIX = "prom_core_all,prom_core_tata,tf1,tf3,human_nontata_promoters,human_enhancers_cohn"

# The equal-budget pair (findna-5M, mlm-5M) at 500 labels covers the ten tasks of at most 300 nt. The three 500-nt tasks
# (human_enhancers_cohn, H3, H4: about 6 more CPU-hours for the two arms) were left out for budget on 2026-12-03, before
# any 5M cell of them had run.
SHORT = "prom_core_all,prom_core_notata,prom_core_tata,prom_300_tata,tf0,tf1,tf2,tf3,tf4,human_nontata_promoters"
ARM_TASKS = {("labels500", "findna-5M"): SHORT, ("labels500", "mlm-5M"): SHORT}

# The CPU fine-tuning recipe, the same for every task and arm (stated in README.md): AdamW at the reference's
# usual peak lr 5e-4, batch 32, 5 % linear warm-up then cosine, the task's reference dropout and weight decay,
# best-on-validation checkpoint with early stopping; test scored once per cell on the whole split.
COMMON = dict(batch_size=32, lr=5e-4, warmup_fraction=0.05, layout="pretrained", gb_protocol="re-split", dev_only="dev",
              precision="auto", on_error="record", verbose=False)
REGIMES = {   # caps chosen to fit the CPU budget (README.md); early stopping on validation ends most cells sooner
    "labels500":  dict(tasks=ALL, seeds="0,1,2", max_train_samples=500, max_val_samples=500, epochs=12, patience=4),
    "labels2000": dict(tasks=SIX, seeds="0,1,2", max_train_samples=2000, max_val_samples=1000, epochs=5, patience=3),
    "full":       dict(tasks=ALL, seeds="0,1", max_train_samples=10000, max_val_samples=2000, epochs=2,
                       eval_every=125, patience=3),
}
# The pretrained networks (each fine-tuned fully). `teacher`: the shipped teacher (the long run, 1e8 nt).
# `findna-5M` / `mlm-5M`: the recipe ablation's seed-0 teachers at equal budgets (5.0e6 nt): both losses vs MLM alone,
# committed with their checksums (results/recipe-ablation/teachers/<name>/README.md) so that every session fine-tunes
# the same weights.
NETWORKS = {"teacher": "data/pretrained/findna-small-chr20",
            "findna-5M": "results/recipe-ablation/teachers/findna-seed0",
            "mlm-5M": "results/recipe-ablation/teachers/findna-mlm-seed0"}
SCRATCH_ARCH = NETWORKS["teacher"]          # scratch: the same architecture, random weights
# the paper's claim at equal budget; long vs short pretraining
EXTRA = [("findna-5M", "mlm-5M"), ("teacher", "findna-5M")]
ARMS = ("scratch", *NETWORKS)

def grid_config(regime:str, arm:str, threads:int) -> EvalConfig:
    "The grid of one arm in one regime."
    net = dict(inits="scratch", scratch_preset=SCRATCH_ARCH, kmer=True) if arm == "scratch" else \
          dict(inits=arm, pretrained=f"{arm}={NETWORKS[arm]}", kmer=False)
    scope = {**REGIMES[regime], **({"tasks": ARM_TASKS[regime, arm]} if (regime, arm) in ARM_TASKS else {})}
    return EvalConfig(data_dir=str(DATA), out_dir=str(HERE / regime / arm), threads=threads, **COMMON, **scope, **net)

def run(regime:str, arm:str, threads:int) -> pd.DataFrame:
    cells, _ = evaluate_grid(grid_config(regime, arm, threads))
    return cells

def collect(regime:str) -> pd.DataFrame:
    "Every finished cell of the regime's arm grids, read back from their results.json (nothing is run)."
    rows = [cell_row(json.loads(p.read_text()), p.parent.parent.name, p.parent)
            for arm in ARMS
            for p in sorted(Path(grid_config(regime, arm, 1).out_dir).glob("cells/*/*/seed*/results.json"))]
    cells = pd.DataFrame(rows)
    if len(cells):
        order = {t: i for i, t in enumerate(split_commas(REGIMES[regime]["tasks"]))}
        cells = cells.assign(o=cells.task.map(order)).sort_values(["o", "init", "seed"], kind="stable") \
                     .drop(columns="o")
    return cells

def reading(cells:pd.DataFrame, regime:str) -> str:
    "What the table says, in sentences generated from the numbers (means over seeds; " \
    "'clearly' = more than 2 standard errors)."
    agg, inits = aggregate_results(cells), arm_order(cells)
    tasks, lines = list(dict.fromkeys(cells.task)), [f"# Reading: {regime}", ""]
    get = lambda t, i: agg.loc[(t, i)] if (t, i) in agg.index else None
    def count(a, b):
        both = [t for t in tasks if get(t, a) is not None and get(t, b) is not None]
        res = [compare_arms(get(t, a), get(t, b)) for t in both]
        return (len(both), sum(d > 0 for d, _ in res), sum(v == "yes" for _, v in res),
                sum(v == "no (worse)" for _, v in res))
    deep = [i for i in inits if i != "kmer"]
    if "kmer" in inits:
        scored = [t for t in tasks if get(t, "kmer") is not None and any(get(t, i) is not None for i in deep)]
        best = [t for t in scored
                if max(get(t, i)["mean"] for i in deep if get(t, i) is not None) > get(t, "kmer")["mean"]]
        lines.append(f"- The best deep arm (by mean) is above the k-mer floor on {len(best)} of {len(scored)} tasks"
                     + (f": {', '.join(best)}." if best else "."))
        dev = set(cells.task[cells.protocol == "dev-trained"])   # H3, H4: no train split (trained on dev)
        if dev:
            own = [t for t in scored if t not in dev]
            lines.append(f"- Of the {len(own)} tasks with a train split "
                         f"(without the dev-trained {', '.join(sorted(dev))}): "
                         f"{sum(t in best for t in own)} of {len(own)}.")
    for a, b in contrasts(inits, EXTRA):
        n, up, yes, worse = count(a, b)
        if n: lines.append(f"- **{a}** vs **{'the k-mer floor' if b == 'kmer' else b}**: "
                           f"higher mean on {up} of {n} tasks, "
                           f"clearly better on {yes}, clearly worse on {worse}.")
    seeds = cells.groupby(["task", "init"]).size()
    lines += ["", f"Cells: {len(cells)} finished ({', '.join(f'{i}: {int((cells.init == i).sum())}' for i in inits)}); "
              f"seeds per task and arm: {int(seeds.min())}–{int(seeds.max())}."]
    run = [f"python experiments/downstream.py --regime {regime} --arms {a} --threads 1" for a in ARMS if a in deep]
    lines += ["", "Reproduce (from a clone with `../shared/data` beside it; resumable, finished cells are read back; "
              "the floor runs in the scratch grid):", "", "```bash", *run,
              f"python experiments/downstream.py --regime {regime} --report-only",
              "```", "", "The data of every cell (files with SHA-256, rows and class counts per split): "
              "`fingerprints.json`. CPU time spent: `budget.md`. Table with 2-SE verdicts: `results.md`."]
    return "\n".join(lines) + "\n"

def budget(cells:pd.DataFrame) -> str:
    "CPU time actually spent: wall seconds of the finished cells per arm (each cell ran on one thread)."
    g = cells.groupby("init", sort=False).wall_time_s.agg(["sum", "size", "median"])
    lines = ["| arm | cells | wall time (h, one thread each) | median per cell (s) |", "|---|---:|---:|---:|"]
    lines += [f"| {i} | {int(r['size'])} | {r['sum'] / 3600:.2f} | {r['median']:.0f} |" for i, r in g.iterrows()]
    return "\n".join(lines) + f"\n\nTotal: {g['sum'].sum() / 3600:.2f} CPU-hours.\n"

def plot_curves(cells:pd.DataFrame, path:Path):
    "Validation primary metric against optimiser steps, one panel per task, one line per deep cell (colour = arm; " \
    "a cell validated once is a point): do runs plateau?"
    deep = cells[cells.init != "kmer"]
    tasks, arms = list(dict.fromkeys(deep.task)), arm_order(deep)
    cols = min(5, len(tasks)); rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.1 * cols, 2.4 * rows), squeeze=False, sharex=False)
    colour = {a: f"C{i}" for i, a in enumerate(arms)}
    for ax, task in zip(axes.flat, tasks):
        for _, c in deep[deep.task == task].iterrows():
            log = [r for r in read_jsonl(Path(c.out_dir) / "metrics.jsonl") if r.get("split") == "val"]
            if log: ax.plot([r["step"] for r in log], [100 * r[c.metric] for r in log], color=colour[c.init], lw=1,
                            alpha=0.8, marker="o", ms=2,
                            label=c.init if c.seed == deep[(deep.task == task) & (deep.init == c.init)].seed.min()
                                  else None)
        ax.set_title(f"{task} (val {deep[deep.task == task].metric.iloc[0]})", fontsize=8); ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(tasks):]: ax.axis("off")
    axes.flat[0].legend(fontsize=7); fig.supxlabel("optimiser step", fontsize=8); fig.tight_layout()
    fig.savefig(path, dpi=100); plt.close(fig)

def label_efficiency() -> pd.DataFrame | None:
    """Across regimes, on the 2,000-label regime's tasks: test metric vs training labels per arm, \
and the teacher − scratch
    gap with its 2-SE verdict. Writes `label-efficiency.md` and `.png`. \
The regimes' schedules differ (12 / 5 / 2 epochs)."""
    tasks = split_commas(SIX)
    aggs = {r: aggregate_results(c[c.task.isin(tasks)]) for r in REGIMES if len(c := collect(r))}
    if not aggs: print("label efficiency: no finished cells"); return None
    lines = ["# Label efficiency (the 2,000-label regime's six tasks, every regime that has them)", "",
             "Test primary metric × 100, mean ± sd over seeds (n). Schedules differ by regime: "
             "labels500 ≤ 12 epochs, labels2000 ≤ 5, full ≤ 2 (≤ 10,000 rows), each with early stopping on "
             "validation (README.md). The gap is teacher − scratch and whether the teacher beats scratch by more "
             "than 2 standard errors (the wording of results.md).", "",
             "| task | metric | regime | labels | floor | scratch | teacher | teacher − scratch |",
             "|---|---|---|---:|---|---|---|---|"]
    fmt = lambda r: "—" if r is None else \
        f"{100 * r['mean']:.1f} ± {100 * r.sd:.1f} ({r.n})" if r.n > 1 else f"{100 * r['mean']:.1f} (1)"
    for task in tasks:
        for regime, agg in aggs.items():
            arm = {a: agg.loc[(task, a)] for a in ("kmer", "scratch", "teacher") if (task, a) in agg.index}
            if not arm: continue
            first = next(iter(arm.values()))
            d, v = compare_arms(arm.get("teacher"), arm.get("scratch"))
            gap = "—" if not v else f"{100 * d:+.1f} ({v})"
            lines.append(f"| {task} | {first.metric} | {regime} | {int(first.n_train):,} | {fmt(arm.get('kmer'))} | "
                         f"{fmt(arm.get('scratch'))} | {fmt(arm.get('teacher'))} | {gap} |")
    lines += ["", "Written by `python experiments/downstream.py --label-efficiency` (also after every run or report) "
              "from the committed cells; each regime's `reading.md` says how its cells were made."]
    (HERE / "label-efficiency.md").write_text("\n".join(lines) + "\n")
    df = pd.concat([agg.reset_index().assign(regime=r) for r, agg in aggs.items()], ignore_index=True)
    cols = 3; fig, axes = plt.subplots(-(-len(tasks) // cols), cols, figsize=(3.4 * cols, 2.6 * -(-len(tasks) // cols)),
                                       squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        for k, arm in enumerate(a for a in ("kmer", "scratch", "teacher", "findna-5M", "mlm-5M") if a in set(df.init)):
            sub = df[(df.task == task) & (df.init == arm)].sort_values("n_train")
            if len(sub): ax.errorbar(sub.n_train, 100 * sub["mean"], yerr=100 * sub.sd.fillna(0), marker="o", ms=3,
                                     capsize=2, lw=1, color=f"C{k}", label="floor" if arm == "kmer" else arm)
        ax.set_xscale("log"); ax.minorticks_off(); ax.set_xticks([500, 2000, 10000], ["500", "2,000", "10,000"])
        ax.set_title(f"{task} (test {df[df.task == task].metric.iloc[0]} × 100)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=6); fig.supxlabel("training labels (log scale)", fontsize=8); fig.tight_layout()
    fig.savefig(HERE / "label-efficiency.png", dpi=100); plt.close(fig)
    print((HERE / "label-efficiency.md").read_text())
    return df

def report(regime:str) -> Path | None:
    cells = collect(regime)
    if not len(cells): print(f"{regime}: no finished cells yet"); return None
    out = HERE / regime
    md = write_evaluation_report(cells, pd.DataFrame(columns=["task", "benchmark", "status", "reason"]), out,
                                 title=f"findna downstream — {regime}", extra=EXTRA)
    (out / "reading.md").write_text(reading(cells, regime))
    (out / "budget.md").write_text(budget(cells))
    plot_curves(cells, out / "curves.png")
    print((out / "reading.md").read_text())
    return md

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regime", choices=list(REGIMES))
    ap.add_argument("--arms", default="scratch", help=f"comma list of {ARMS}")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--label-efficiency", action="store_true",
                    help="only the cross-regime summary of the six tasks (runs nothing)")
    a = ap.parse_args()
    os.chdir(ROOT)        # NETWORKS are paths relative to the repository root, as the grids' settings record them
    if a.label_efficiency: label_efficiency(); sys.exit(0)            # reads committed cells only: no data needed
    if not DATA.is_dir(): sys.exit(f"{DATA} not found: this experiment needs the shared data beside the repository")
    if a.regime is None: ap.error("--regime is required (or --label-efficiency)")
    if not a.report_only:
        for arm in split_commas(a.arms):
            if arm not in ARMS: sys.exit(f"--arms: {arm!r} is not one of {ARMS}")
            run(a.regime, arm, a.threads)
    report(a.regime)
    label_efficiency()
