"""The verdict: the shipped teacher against its MLM-only twin, from-scratch networks and a supervised CNN that each get
their own learning rate chosen on validation, and the k-mer floor; plus frozen probes of both teachers.

    python experiments/verdict.py --part labels500 --arms cnn,scratch --threads 1   # a process per arm list; resumable
    python experiments/verdict.py --part full --arms cnn --threads 1               # the CNN in the full-budget regime
    python experiments/verdict.py --part probes --threads 1                        # frozen probes, 13 tasks
    python experiments/verdict.py --report-only                                    # results/verdict/README.md

The 500-label comparison reuses the settings of the committed `results/downstream/labels500` grids exactly (read from
their `grid.json`): 500 training and 500 validation rows per task (stratified, seeded), batch 32, at most 12 epochs with
early stopping (patience 4) on validation, 5 % warm-up then cosine, test scored once per cell on the whole split. What
changes is the learning rate. The rule, fixed before any cell ran: for each task and arm, seed 0 runs `lr="auto"`
(2.5e-4, 5e-4, 1e-3, 2e-3; the best validation score, ties to the smaller rate); seeds 1 and 2 run at the rate seed 0
chose. A committed `labels500` cell at 5e-4 with the same settings counts as that grid point (seed 0: adopted into the
search; seeds 1 and 2: read back), so nothing is trained twice except a chosen adopted point, whose weights were not
committed (trained again; the note compares the two validation scores). Data root: `$FINDNA_DATA` or ../shared/data.
"""
import argparse, json, os, sys, time
from dataclasses import replace
from pathlib import Path
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from findna.config import split_commas
from findna.evaluation import (EvalConfig, aggregate_results, arm_order, cell_row, compare_arms, contrasts, kmer_cell,
                               plan_grid, plot_results, results_table, verdicts, write_evaluation_report)
from findna.embeddings import EmbeddingsConfig, run_embeddings
from findna.finetuning import LR_GRID, adopt_lr_point, finetune

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FINDNA_DATA", ROOT.parent / "shared" / "data")).resolve()
OUT, DOWN = ROOT / "results" / "verdict", ROOT / "results" / "downstream"
# the 10 tasks of <= 300 nt
SHORT = ("prom_core_all,prom_core_notata,prom_core_tata,prom_300_tata,tf0,tf1,tf2,tf3,tf4,"
         "human_nontata_promoters")
ALL = SHORT + ",human_enhancers_cohn,H3,H4"
NETWORKS = {"teacher": "data/pretrained/findna-small-chr20", "mlm": "data/pretrained/findna-small-chr20-mlm"}
ARMS = ("cnn", "scratch", "mlm", "teacher")
PARTS = {"labels500": SHORT, "full": ALL}

def base(part:str) -> EvalConfig:
    "The committed grid's settings for `part` (its scratch arm's grid.json), on this machine's data root."
    cfg = json.loads((DOWN / part / "scratch" / "grid.json").read_text())["config"]
    return EvalConfig.from_dict({**cfg, "data_dir": str(DATA), "verbose": False, "on_error": "raise"})

def arm_grid(part:str, arm:str, threads:int) -> EvalConfig:
    "The grid of one arm: the committed settings with this arm's network (and kmer off: the floor is committed)."
    net = dict(inits="scratch") if arm == "scratch" else dict(inits="cnn") if arm == "cnn" else \
          dict(inits=arm, pretrained=f"{arm}={NETWORKS[arm]}")
    return replace(base(part), tasks=PARTS[part], kmer=False, threads=threads, out_dir=str(OUT / part / arm), **net)

def committed(part:str, arm:str, task:str, seed:int) -> Path:
    return DOWN / part / arm / "cells" / task / arm / f"seed{seed}"

def run_cell(cfg, part:str, arm:str, task:str, seed:int) -> dict:
    "One cell at a fixed rate: the committed one if it holds these settings, else trained under results/verdict/."
    old = committed(part, arm, task, seed)
    if (old / "results.json").is_file():
        try: return finetune(replace(cfg, out_dir=str(old)))          # read back (another configuration raises)
        except Exception as e:
            if "another configuration" not in str(e): raise
    return finetune(replace(cfg, out_dir=str(OUT / part / arm / task / f"seed{seed}")))

def run_arm(part:str, arm:str, threads:int, tasks:str|None=None):
    "Seed 0 chooses the rate on validation; the part's other seeds run at it (`tasks`: a subset, in that order)."
    os.chdir(ROOT)   # network paths are repository-relative, as the committed grids record
    grid = arm_grid(part, arm, threads)
    cells = {(t, s): c for t, _, s, c in plan_grid(grid, OUT / part / arm).cells}
    for task in split_commas(tasks or PARTS[part]):
        if task not in split_commas(PARTS[part]): sys.exit(f"--tasks: {task!r} is not a task of {part}: {PARTS[part]}")
        search = replace(cells[task, 0], lr="auto", out_dir=str(OUT / part / arm / task / "seed0"))
        if not (Path(search.out_dir) / "results.json").is_file() \
                and adopt_lr_point(committed(part, arm, task, 0), search):
            print(f"{part}/{arm}/{task}: the committed 5e-4 cell counts as that point of the search", flush=True)
        rec = finetune(search)
        lr = rec["lr_search"]["chosen"]
        tried = ", ".join(f"{p['lr']:g}: {p['val']:.3f}" for p in rec["lr_search"]["points"])
        print(f"{part}/{arm}/{task}: lr {lr:g} chosen on validation ({tried})", flush=True)
        for seed in sorted(s for t, s in cells if t == task and s != 0):           # the part's other seeds (full: 1)
            run_cell(replace(cells[task, seed], lr=lr), part, arm, task, seed)

def collect(part:str) -> pd.DataFrame:
    "Every finished cell of `part`: the verdict's own cells, the committed 5e-4 cells they read back, and the floor."
    rows = []
    for arm in ARMS:
        grid = arm_grid(part, arm, 1)
        for (task, seed), cfg in {(t, s): c for t, _, s, c in plan_grid(grid, OUT / part / arm).cells}.items():
            seed0 = OUT / part / arm / task / "seed0" / "results.json"
            if not seed0.is_file(): continue
            rec0 = json.loads(seed0.read_text())
            if seed == 0: rows.append(dict(cell_row(rec0, arm, seed0.parent), lr=rec0["lr_search"]["chosen"])); continue
            for where in (OUT / part / arm / task / f"seed{seed}", committed(part, arm, task, seed)):
                rec = json.loads((where / "results.json").read_text()) if (where / "results.json").is_file() else None
                if rec and rec["config"]["lr"] == rec0["lr_search"]["chosen"] and rec["config"]["seed"] == seed:
                    rows.append(dict(cell_row(rec, arm, where), lr=rec["config"]["lr"])); break
    cells = pd.DataFrame(rows)
    for task in dict.fromkeys(cells.task) if len(cells) else []:
        for seed in sorted(set(cells.seed[cells.task == task])):
            f = DOWN / part / "scratch" / "cells" / task / "kmer" / f"seed{seed}"
            if (f / "results.json").is_file():
                rows.append(dict(cell_row(json.loads((f / "results.json").read_text()), "kmer", f), lr=np.nan))
    return pd.DataFrame(rows)

def run_probes(threads:int) -> None:
    "Frozen probes of the findna teacher, its MLM twin and a random network on all 13 tasks " \
    "(2,000 rows per split at most)."
    os.chdir(ROOT)
    run_embeddings(EmbeddingsConfig(checkpoint=f"findna={NETWORKS['teacher']},mlm={NETWORKS['mlm']}", tasks=ALL,
                                    data_dir=str(DATA), gb_protocol="re-split", n_per_split=2000, n_windows=0,
                                    threads=threads, out_dir=str(OUT / "probes")))

CLAIM = ("teacher", "mlm")          # the paper's claim: self-distillation + MLM vs MLM alone, same budget (10^8 nt)

def counts(cells:pd.DataFrame, a:str, b:str) -> tuple[int, int, int, int]:
    "(tasks with both, a higher by mean, a clearly better, a clearly worse) — " \
    "'clearly' = more than 2 standard errors."
    agg = aggregate_results(cells)
    both = [t for t in dict.fromkeys(cells.task) if (t, a) in agg.index and (t, b) in agg.index]
    res = [compare_arms(agg.loc[(t, a)], agg.loc[(t, b)]) for t in both]
    return (len(both), sum(d > 0 for d, _ in res), sum(v == "yes" for _, v in res),
            sum(v == "no (worse)" for _, v in res))

def reading(cells:pd.DataFrame, part:str) -> list[str]:
    "Sentences generated from the numbers of one part."
    inits, lines = arm_order(cells), []
    for a, b in contrasts(inits, [CLAIM]):
        n, up, yes, worse = counts(cells, a, b)
        if n: lines.append(f"- **{a}** vs **{'the k-mer floor' if b == 'kmer' else b}**: "
                           f"higher mean on {up} of {n} tasks, "
                           f"clearly better on {yes}, clearly worse on {worse}.")
    if all(i in inits for i in CLAIM):
        n, up, yes, worse = counts(cells, *CLAIM)
        lines.insert(0, f"- **The paper's claim at this project's largest scale** (10⁸ nt of chr20, `small` network, "
                        f"{part}): the findna teacher (MLM + self-distillation) is above its MLM-only twin "
                        f"on {up} of {n} tasks, clearly on {yes}, clearly below on {worse}.")
    return lines

def lr_table(cells:pd.DataFrame) -> str:
    "The rate each arm chose on seed 0's validation, per task."
    t = cells[(cells.seed == 0) & (cells.init != "kmer")].pivot_table(index="task", columns="init", values="lr",
                                                                      sort=False)
    t = t[[a for a in ARMS if a in t]]
    return "\n".join(["| task | " + " | ".join(t.columns) + " |", "|---|" + "---:|" * len(t.columns)] +
                     [f"| {task} | " + " | ".join("—" if pd.isna(v) else f"{v:g}" for v in row) + " |"
                      for task, row in t.iterrows()])

def edges(cells:pd.DataFrame) -> list[str]:
    "Which seed-0 choices sit at an end of the grid (the best rate may lie beyond it); the grid stays as fixed."
    seed0 = cells[(cells.seed == 0) & (cells.init != "kmer")]
    out = []
    for end, rate in (("top", max(LR_GRID)), ("bottom", min(LR_GRID))):
        hits = seed0[np.isclose(seed0.lr, rate)]
        if len(hits): out.append(f"at the {end} ({rate:g}): "
                                 + ", ".join(f"{a} on {t}" for t, a in zip(hits.task, hits.init)))
    if not out: return []
    return [f"Choices at an end of the grid, {'; '.join(out)}. The grid is the one fixed before any cell ran, the same "
            "for every arm; it was not widened after seeing these choices (widening it for one arm only, or after "
            "seeing which arm it would help, would be a choice made on results). An arm at the top might gain from a "
            "larger rate; this table does not say how much.", ""]

def probe_split(pairs:pd.DataFrame) -> list[str]:
    "findna − mlm by pooling: the self-distillation objective acts on the CLS tokens, MLM on every position."
    pairs = pairs[(pairs.model == "findna") & (pairs.baseline == "mlm")]
    return [f"- **findna − mlm, {pool} pooling**: above in {int((g.lo > 0).sum())}, "
            f"below in {int((g.hi < 0).sum())} of "
            f"{len(g)} (kNN and linear × {g.task.nunique()} tasks); mean difference {g['diff'].mean():+.3f}."
            for pool, g in pairs.groupby("pooling", sort=False)]

def full_beside() -> list[str]:
    "The CNN (own rate) beside the committed full-budget grid's teacher and scratch (fixed 5e-4), one table."
    ours, grid = OUT / "full" / "results.csv", DOWN / "full" / "results.csv"
    if not (ours.is_file() and grid.is_file()): return []
    a, b = pd.read_csv(ours).set_index("task"), pd.read_csv(grid).set_index("task")
    cell = lambda d, t, arm: (f"{d.loc[t, arm + '_mean']:.1f} ± {d.loc[t, arm + '_sd']:.1f}"
                              if t in d.index and f"{arm}_mean" in d and pd.notna(d.loc[t, f"{arm}_mean"]) else "—")
    rows = [f"| {t} | {cell(a, t, 'cnn')} | {cell(b, t, 'teacher')} | {cell(b, t, 'scratch')} | {cell(a, t, 'kmer')} |"
            for t in a.index]
    return ["### Beside the committed full-budget grid", "",
            "The teacher and scratch columns come from `results/downstream/full/` (2 seeds, **fixed rate 5e-4, not "
            "searched**, at most 2 epochs); the CNN had its rate chosen on validation: not the same protocol, "
            "shown side by side for orientation only.", "",
            "| task | cnn (own rate) | teacher (5e-4) | scratch (5e-4) | k-mer floor |",
            "|---|---:|---:|---:|---:|", *rows, ""]

def budget(cells:pd.DataFrame) -> tuple[float, float]:
    "CPU hours (one thread per cell) of the cells this study ran, and of the committed cells it reused."
    own = cells.out_dir.astype(str).str.startswith(str(OUT))
    return cells.wall_time_s[own].sum() / 3600, cells.wall_time_s[~own & (cells.init != "kmer")].sum() / 3600

def report() -> Path:
    "results/verdict/README.md: the tables, counts, figure, chosen rates, reading and budget, all from finished cells."
    lines = ["# The verdict: findna teacher vs its MLM-only twin, from-scratch networks, a supervised CNN "
             "and the k-mer floor", "",
             "Generated by `python experiments/verdict.py --report-only` from the finished cells (see that script's "
             "docstring for the protocol). Test primary metric × 100 (MCC for GUE, accuracy for GenomicBenchmarks), "
             "mean ± sd over seeds (n); verdicts compare means by two standard errors (`yes` = clearly better, "
             "`no (worse)` = clearly worse). Every deep arm's learning rate was chosen on seed 0's **validation** "
             "split from 2.5e-4, 5e-4, 1e-3, 2e-3; no choice saw a test split. GenomicBenchmarks tasks are re-split "
             "from their official test sets (labelled `re-split`): not comparable to published numbers. Every arm "
             "shares the committed grids' budget (500 labels: at "
             "most 12 epochs = 192 steps, early stopping after 4 validations without improvement); `<part>/curves.png` "
             "shows whether an arm's validation was still rising when it stopped.", ""]
    done = {part: collect(part) for part in PARTS}
    status = [f"- {part}: " + ", ".join(f"{a} {int((c.init == a).sum()) if len(c) else 0} cells"
                                        for a in (*ARMS, "kmer"))
              for part, c in done.items()]
    twin = ROOT / NETWORKS["mlm"] / "model.safetensors"
    lines += ["## Status", "", *status,
              f"""- MLM-only twin: {'shipped' if twin.is_file() else
                                    'pretraining (results/pretrain-chr20-mlm/README.md); '
                                    'its arm and the probes wait for it'}""",
              f"- frozen probes: {'finished' if (OUT / 'probes' / 'pairs.csv').is_file() else 'not yet run'}", ""]
    spent = []
    for part in PARTS:
        cells = collect(part)
        if not len(cells): lines += [f"## {part}", "", "No finished cells yet.", ""]; continue
        write_evaluation_report(cells, pd.DataFrame(columns=["task", "benchmark", "status", "reason"]), OUT / part,
                                title=f"verdict — {part}", extra=[CLAIM])
        deep = cells[cells.init != "kmer"]
        own, reused = budget(cells)
        spent.append((part, own, reused))
        lines += [f"## {part}", "",
                  (OUT / part / "results.md").read_text().split("\n", 2)[2].split("## Notes from the cells")[0].strip(),
                  "", "### Reading", "", *reading(cells, part), "", f"![{part}]({part}/results.png)", "",
                  *(full_beside() if part == "full" else []),
                  "### Learning rates chosen on seed 0's validation", "", lr_table(cells), "", *edges(cells),
                  f"Cells: {len(deep)} deep "
                  f"({', '.join(f'{a}: {int((deep.init == a).sum())}' for a in arm_order(deep))}), "
                  f"{int((cells.init == 'kmer').sum())} floor.", ""]
    probes = OUT / "probes"
    if (probes / "pairs.csv").is_file():
        lines += ["## Frozen probes (no fine-tuning): findna teacher vs MLM twin vs a random network", "",
                  "Linear probe (C chosen on validation) and kNN (k = 5, cosine) on frozen embeddings, mean and CLS "
                  "pooling, up to 2,000 rows per split; 95 % paired bootstrap intervals over test rows. Full tables: "
                  "`probes/probes.md`; reading: `probes/reading.md`.", "",
                  *[l for l in (probes / "reading.md").read_text().splitlines()
                    if l.startswith("- Over all") or "−" in l],
                  *probe_split(pd.read_csv(probes / "pairs.csv")), ""]
    lines += ["## CPU time", "",
              "Wall-clock hours of one-thread processes, summed over cells. They often shared the 2 cores with "
              "other jobs (up to five processes at once), so these figures overstate the CPU time a quiet machine "
              "needs.", "",
              "| part | cells run by this study (h, one thread each) | committed cells reused (h) |",
              "|---|---:|---:|", *[f"| {p} | {o:.2f} | {r:.2f} |" for p, o, r in spent]]
    summary = probes / "summary.json"
    if summary.is_file():
        lines.append(f"| probes | {json.loads(summary.read_text())['timings_s']['total'] / 3600:.2f} | – |")
    lines += ["", "The MLM-only twin's pretraining (10⁸ nt): `results/pretrain-chr20-mlm/README.md`."]
    (OUT / "README.md").write_text("\n".join(lines) + "\n")
    return OUT / "README.md"

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=[*PARTS, "probes"])
    ap.add_argument("--arms", default="cnn", help=f"comma list of {ARMS}")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tasks",
                    help="comma list: only these tasks of the part, in this order (a second process can take "
                         "the other end of the list; two processes must not run the same task)")
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    if not a.report_only:
        if not DATA.is_dir(): sys.exit(f"{DATA} not found: set FINDNA_DATA to the shared data root")
        if a.part == "probes": run_probes(a.threads)
        elif a.part:
            for arm in split_commas(a.arms):
                if arm not in ARMS: sys.exit(f"--arms: {arm!r} is not one of {ARMS}")
                run_arm(a.part, arm, a.threads, a.tasks)
    print(report().read_text())
