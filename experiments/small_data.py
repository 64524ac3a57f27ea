"""A budget for small data: how many optimiser steps, and which learning rate, does a folder of ~300 rows need?

    python experiments/small_data.py --threads 1              # run (resumable: finished cells are read back)
    python experiments/small_data.py --report-only            # the table and reading from finished cells
    python experiments/small_data.py --folder --threads 1     # the default user path on a generated 300-row folder

Each shared task below becomes a folder of your own data, as a user would bring it: 300 training rows (a stratified,
seeded subsample of the task's train split) and, as that folder's `test.csv`, the task's **dev** split (500 rows,
stratified). The folder has no dev split, so validation is a seeded 10 % slice of its 300 rows (30 rows), exactly as
for a user's folder. The shared tasks' own test splits are never read. Every cell fine-tunes the shipped teacher
(`findna-small-chr20`) with the generic settings (batch 32, 10 epochs = 90 steps on the 270 rows left after \
validation, warm-up 10 %, dropout
0.1, weight decay 0.01), changing one thing: the floor on optimiser steps (`min_steps` 0 / 400 / 1000) and the
learning rate (5e-4, or "auto": chosen on the 30-row validation slice from 2.5e-4 .. 2e-3). The score reported is the
outside check (the task's dev split), which no choice saw. Outputs: `results/small-data/`.
"""
import argparse, json, os, sys
from pathlib import Path
import numpy as np
import pandas as pd
from findna.config import split_commas
from findna.evaluation import kmer_cell
from findna.finetuning import FinetuneConfig, finetune
from findna.tasks import load, write_motif_task

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FINDNA_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "results" / "small-data"
WORK = ROOT / "runs" / "small-data"                # the derived folders (copies of shared rows: never committed)
TASKS = ("prom_core_all", "tf1", "human_nontata_promoters")   # 70, 101, 251 nt; fixed before any result was seen
ROWS, CHECK_ROWS = 300, 500
ARMS = {"10 epochs (90 steps) · lr 5e-4": dict(lr=5e-4, min_steps=0),
        "400 steps · lr 5e-4": dict(lr=5e-4, min_steps=400),
        "1000 steps · lr 5e-4": dict(lr=5e-4, min_steps=1000), "400 steps · lr auto": dict(lr="auto", min_steps=400)}

def user_folder(task:str, seed:int) -> Path:
    "The task as a small folder of your own: 300 train rows, and the task's dev rows as the folder's test.csv."
    folder = WORK / "folders" / f"{task}-seed{seed}"
    if (folder / "test.csv").is_file(): return folder
    data = load(task, DATA, val="dev" if task != "human_nontata_promoters" else "train", seed=seed,
                max_train_samples=ROWS, max_val_samples=CHECK_ROWS,
                protocol="re-split" if task.startswith("human") else None)
    folder.mkdir(parents=True, exist_ok=True)
    # the task's validation rows: never its test split
    for name, split in (("train", data.train), ("test", data.val)):
        pd.DataFrame(dict(sequence=split.sequences(), label=split.labels)).to_csv(folder / f"{name}.csv", index=False)
    return folder

def cell(task:str, seed:int, arm:str, threads:int) -> dict:
    out = WORK / "cells" / task / arm.replace(" ", "_").replace(",", "") / f"seed{seed}"
    rec = finetune(task=str(user_folder(task, seed)), metric="mcc", pretrained="findna-small-chr20", seed=seed,
                   threads=threads, out_dir=str(out), verbose=False, **ARMS[arm])
    return dict(task=task, seed=seed, arm=arm, steps=rec["steps"]["done"], total=rec["steps"]["total"],
                lr=rec["hyperparameters"]["lr"], val_mcc=rec["val"]["mcc"], check_mcc=rec["test"]["mcc"],
                check_accuracy=rec["test"]["accuracy"], best_step=rec["best"]["step"], wall_time_s=rec["wall_time_s"])

def folder_run(threads:int) -> str:
    "The default user path (shipped teacher, every other setting left to the library) " \
    "and the k-mer floor on the folder."
    folder = write_motif_task(WORK / "motif-folder", dict(train=300, test=1000), length=100, motif="TATAAA", seed=0)
    cfg = FinetuneConfig(task=str(folder), metric="mcc", pretrained="findna-small-chr20", threads=threads,
                         out_dir=str(WORK / "motif-folder-run"), verbose=False)
    rec, floor = finetune(cfg), kmer_cell(cfg, WORK / "motif-folder-kmer")
    old = finetune(cfg, lr=5e-4, min_steps=0, out_dir=str(WORK / "motif-folder-old-defaults"))
    pts = ", ".join(f"{p['lr']:g}: {p['val']:.3f}" for p in rec["lr_search"]["points"])
    return "\n".join(["", "## The default user path on a generated folder", "",
        "300 training rows of 100 nt (TATAAA planted at a random position in class 1; seeded), no dev split "
        "(validation: a seeded 10 % slice, 30 rows), 1,000 test rows generated the same way. The shipped teacher "
        "fine-tuned with every setting left to the library "
        "(`finetune(task=folder, metric='mcc', pretrained='findna-small-chr20')`), beside "
        "the k-mer floor on the same splits and the former defaults (lr 5e-4, 10 epochs = 90 steps). Command: "
        "`python experiments/small_data.py --folder --threads 1`.", "",
        "| | test MCC | test accuracy | steps | learning rate |", "|---|---:|---:|---:|---|",
        f"| default path (lr auto, floor {rec['hyperparameters']['min_steps']} steps) | {rec['test']['mcc']:.3f} | "
        f"{rec['test']['accuracy']:.3f} | {rec['steps']['done']} | {rec['lr_search']['chosen']:g} (val MCC {pts}) |",
        f"| former defaults | {old['test']['mcc']:.3f} | {old['test']['accuracy']:.3f} | "
        f"{old['steps']['done']} | 5e-4 |",
        f"| k-mer floor | {floor['test']['mcc']:.3f} | {floor['test']['accuracy']:.3f} | – | – |", "",
        f"The default path is {'at or above' if rec['test']['mcc'] >= floor['test']['mcc'] else 'below'} the floor "
        f"({rec['test']['mcc'] - floor['test']['mcc']:+.3f} MCC). "
        f"CPU time: {rec['wall_time_s'] / 60:.1f} min (default path), "
        f"{old['wall_time_s'] / 60:.1f} min (former defaults), one thread.", ""])

def report(rows:pd.DataFrame) -> str:
    "The table (mean ± sd over seeds of the outside check) and a reading generated from the numbers."
    g = rows.groupby(["task", "arm"], sort=False).check_mcc
    t = pd.DataFrame(dict(mean=g.mean(), sd=g.std(ddof=1), n=g.size())).reset_index()
    lines = ["# A budget for small data (300 rows): results", "",
             "MCC × 100 on the outside check (each task's dev split, 500 rows, never used for any choice), "
             "mean ± sd over seeds (n). Shipped teacher, batch 32; validation is a 30-row slice of the 300 rows. "
             "Command: `python experiments/small_data.py --threads 1`.", "",
             "| task | " + " | ".join(ARMS) + " |", "|---|" + "---:|" * len(ARMS)]
    for task in dict.fromkeys(rows.task):
        cells = []
        for arm in ARMS:
            r = t[(t.task == task) & (t.arm == arm)]
            cells.append("—" if not len(r) else
                         f"{100 * r['mean'].iloc[0]:.1f} ± {100 * r.sd.iloc[0]:.1f} ({r.n.iloc[0]})"
                         if r.n.iloc[0] > 1 else f"{100 * r['mean'].iloc[0]:.1f} (1)")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    paired = rows.pivot_table(index=["task", "seed"], columns="arm", values="check_mcc")
    lines += ["", "Paired differences (same task, seed and rows), MCC × 100, mean ± standard error over the pairs:",
              ""]
    for a, b in (("400 steps · lr 5e-4", "10 epochs (90 steps) · lr 5e-4"),
                 ("1000 steps · lr 5e-4", "400 steps · lr 5e-4"),
                 ("400 steps · lr auto", "400 steps · lr 5e-4")):
        if a in paired and b in paired:
            d = (paired[a] - paired[b]).dropna()
            if len(d) > 1:
                se = d.std(ddof=1) / np.sqrt(len(d))
                verdict = ("clearly better" if d.mean() > 2 * se else
                           "clearly worse" if d.mean() < -2 * se else "within 2 SE")
                lines.append(f"- **{a}** − **{b}**: {100 * d.mean():+.1f} ± {100 * se:.1f} over {len(d)} pairs "
                             f"({int((d > 0).sum())} higher, {int((d < 0).sum())} lower): {verdict}.")
    lines += ["", f"CPU time: {rows.wall_time_s.sum() / 3600:.2f} h on one thread ({len(rows)} cells)."]
    return "\n".join(lines) + "\n"

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--arms", default=",".join(ARMS), help="comma list of the arm names above")
    ap.add_argument("--tasks", default=",".join(TASKS), help="comma list of the tasks above")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--folder", action="store_true",
                    help="only the generated 300-row folder (results/small-data/folder.md)")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if a.folder:
        (OUT / "folder.md").write_text(folder_run(a.threads)); print((OUT / "folder.md").read_text()); sys.exit(0)
    rows = pd.read_csv(OUT / "cells.csv").to_dict("records") if (OUT / "cells.csv").is_file() else []
    if not a.report_only:
        if not DATA.is_dir(): sys.exit(f"{DATA} not found: set FINDNA_DATA to the shared data root")
        done = {(r["task"], r["seed"], r["arm"]) for r in rows}
        for arm in split_commas(a.arms):
            for seed in map(int, split_commas(a.seeds)):
                for task in split_commas(a.tasks):
                    if (task, seed, arm) in done: continue
                    rows.append(cell(task, seed, arm, a.threads)); print(rows[-1], flush=True)
                    pd.DataFrame(rows).to_csv(OUT / "cells.csv", index=False)
    if rows: (OUT / "README.md").write_text(report(pd.DataFrame(rows))); print((OUT / "README.md").read_text())
