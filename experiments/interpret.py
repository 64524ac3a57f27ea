"""Where do the teacher-initialised and the from-scratch classifiers of GUE `prom_core_tata` look?

    nice -n 10 python experiments/interpret.py --threads 1          # fine-tune both, explain both, report
    # or in parallel, one process per arm, then the report:
    nice -n 10 python experiments/interpret.py --threads 1 --stage finetune --arms teacher   # (and --arms scratch)
    nice -n 10 python experiments/interpret.py --threads 1 --stage explain --arms teacher --methods ism   # (x 4)
    nice -n 10 python experiments/interpret.py --threads 1 --stage report

Two classifiers are fine-tuned on `prom_core_tata` (70 nt around the TSS, TATA-box promoters vs. non-promoters) with
`findna.finetuning.finetune` under one budget: from the shipped teacher `findna-small-chr20`, and from random weights of
the same architecture. Model selection uses validation only; test is scored once. The runs live in `runs/interpret/`
(git-ignored; a finished run is not rerun). Then `findna.interpret` attributes the promoter logit of both on the
test-split promoters (in-silico saturation mutagenesis and DeepLIFT/SHAP): the mean attribution profile by position,
logos of a few examples, seqlets and how many of them hold a TATA-like motif (TATAWAW). Outputs: results/interpret/.
Data root: --data, else $FINDNA_DATA, else ../shared/data.
"""
import argparse, json, os, platform, re, shutil, subprocess, sys, time
from pathlib import Path
import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "interpret"
RUNS = ROOT / "runs" / "interpret"
TASK, TEACHER = "prom_core_tata", "findna-small-chr20"
# one budget for both arms: 2 epochs (as results/downstream/full; about 4 min of one thread each), lr 5e-4 (reference)
BUDGET = dict(epochs=2, batch_size=32, lr=5e-4, warmup_fraction=0.05, seed=0, precision="auto", verbose=False)
ARMS = {"teacher": dict(pretrained=TEACHER), "scratch": dict(pretrained="", preset=f"{ROOT}/data/pretrained/{TEACHER}")}

def finetune_arms(data:Path, threads:int, arms:list) -> dict:
    "Fine-tune the arms (a finished run is returned as is); {arm: results record}."
    from findna.finetuning import finetune
    out = {}
    for arm in arms:
        init = ARMS[arm]
        t0 = time.time()
        rec = finetune(task=TASK, data_dir=str(data), out_dir=str(RUNS / arm), threads=threads, **BUDGET, **init)
        print(f"{arm}: test mcc {rec['test']['mcc']:.3f} (val {rec['val']['mcc']:.3f}), {time.time() - t0:.0f} s",
              flush=True)
        out[arm] = rec
    return out

def cpu_line() -> str:
    "The CPU model, whether it has native bf16 (avx512_bf16), and the thread count used."
    try: info = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError: info = ""
    model = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("Model name")),
                 platform.processor())
    return f"{model}, {os.cpu_count()} cores, avx512_bf16 {'yes' if 'avx512_bf16' in info else 'no'}"

ATTR = RUNS / "attributions"
METHODS = ("ism", "deep_lift_shap")

def interpret_config(data:Path, args, arms:list, methods:str="ism,deep_lift_shap") -> "InterpretConfig":
    "The attribution settings: class-1 test promoters, the promoter log-odds, both methods, TSS-relative positions."
    from findna.interpret import InterpretConfig
    return InterpretConfig(models=",".join(f"{arm}={RUNS / arm}" for arm in arms), task=TASK, data_dir=str(data),
                           split="test", label=1, target=1, n_examples=args.n_examples, methods=methods,
                           n_shuffles=20, motif="TATAWAW", offset=-34, marks="TATA box:-31:-24", n_logos=4,
                           threads=args.threads, device="cpu", seed=0)

def explain_arms(data:Path, args, arms:list) -> None:
    "Attributions of each arm (both methods) on the same records, saved to runs/interpret/attributions/."
    from findna.interpret import explain_models
    ATTR.mkdir(parents=True, exist_ok=True)
    for arm in arms:
        for method in args.methods.split(","):
            t0, c0 = time.time(), time.process_time()
            explain_models(interpret_config(data, args, [arm], method), ATTR)
            (ATTR / f"{arm}_{method}_timing.json").write_text(json.dumps(dict(wall_s=time.time() - t0,
                                                                               cpu_s=time.process_time() - c0)))
            print(f"{arm} {method}: explained in {(time.time() - t0) / 60:.1f} min", flush=True)

def report(records:dict, data:Path, args) -> None:
    "Figures, tables and README from the saved attributions of both arms."
    from findna.interpret import Explanation, report_interpret, task_records
    out = OUT / "explain"
    if out.exists(): shutil.rmtree(out)                                   # this script's own output, regenerated
    out.mkdir(parents=True)
    cfg = interpret_config(data, args, list(ARMS))
    notes = task_records(cfg)[2]
    expls = {(arm, m): Explanation.load(ATTR / f"attributions_{arm}_{m}.npz") for arm in ARMS for m in METHODS}
    res = report_interpret(expls, cfg, notes, out)
    timing = {f"{arm} {m}": json.loads((ATTR / f"{arm}_{m}_timing.json").read_text()) for arm in ARMS for m in METHODS}
    fine = pd.DataFrame([dict(arm=arm, init=r["init"]["description"].replace(f"{ROOT}/", ""),
                              epochs=r["hyperparameters"]["epochs"], lr=f"{r['hyperparameters']['lr']:g}",
                              steps=r["steps"]["done"], best_step=r["best"]["step"], val_mcc=r["val"]["mcc"],
                              test_mcc=r["test"]["mcc"], test_auroc=r["test"]["auroc"],
                              wall_min=f"{r.get('wall_time_s', float('nan')) / 60:.0f}")
                         for arm, r in records.items()])
    fine.to_csv(OUT / "finetune.csv", index=False)
    stats = data_motif_positions(data)
    stats.to_csv(OUT / "tatawaw_positions.csv", index=False)
    boxes = box_attribution(expls)
    boxes.to_csv(OUT / "box_attribution.csv", index=False)
    bases = base_attribution(expls)
    bases.to_csv(OUT / "base_attribution.csv", index=False)
    region = region_by_base(expls)
    region.to_csv(OUT / "region_by_base.csv", index=False)
    from findna.interpret import motif_sites, plot_logo_panel
    e = next(iter(expls.values()))
    boxed = [i for i, q in enumerate(e.sequences) if any(a <= 3 for a, _ in motif_sites(q, "TATAWAW"))][:3]
    if boxed:
        fig = plot_logo_panel(expls, boxed, offset=-34)
        fig.savefig(out / "logos_tatawaw.png", dpi=110, bbox_inches="tight")
    write_readme(fine, res, stats, boxes, bases, region, args, timing)

def data_motif_positions(data:Path) -> pd.DataFrame:
    "How many rows of each split and class hold a TATAWAW match starting at each position " \
    "(relative to the TSS, −34…−28)."
    rows = []
    for split in ("train", "test"):
        d = pd.read_csv(data / "GUE" / "prom" / TASK / f"{split}.csv")
        for y, g in d.groupby("label"):
            starts = [m.start() - 34 for s in g.sequence for m in re.finditer("(?=TATA[AT]A[AT])", s)]
            row = dict(split=split, label=int(y), rows=len(g),
                       with_match=float(np.mean([bool(re.search("TATA[AT]A[AT]", s)) for s in g.sequence])))
            row.update({f"start {p}": int(sum(q == p for q in starts)) for p in range(-34, -27)})
            row["start elsewhere"] = int(sum(not -34 <= q <= -28 for q in starts))
            rows.append(row)
    return pd.DataFrame(rows)

def base_attribution(expls:dict) -> pd.DataFrame:
    "Mean attribution of A, C, G and T (observed bases, all positions), " \
    "and the share of positive attribution on C or G."
    rows = []
    for (arm, method), e in expls.items():
        a = e.attributions.sum(1)                                          # (N, L): the observed base's attribution
        base = e.one_hot.argmax(1)                                         # (N, L)
        row = dict(model=arm, method=method, **{f"mean {b}": float(a[base == k].mean()) for k, b in enumerate("ACGT")})
        pos = np.clip(a, 0, None)
        row["positive share on C/G"] = float(pos[(base == 1) | (base == 2)].sum() / pos.sum())
        row["C/G share of bases"] = float(((base == 1) | (base == 2)).mean())
        rows.append(row)
    return pd.DataFrame(rows)

def region_by_base(expls:dict, lo:int=-32, hi:int=-27) -> pd.DataFrame:
    "Mean attribution of each base inside lo…hi (TSS-relative) and elsewhere (first and last position left out): " \
    "position or composition?"
    rows = []
    for (arm, method), e in expls.items():
        a, base = e.attributions.sum(1), e.one_hot.argmax(1)
        inside = np.zeros(a.shape[1], bool); inside[lo + 34:hi + 35] = True
        inner = np.zeros(a.shape[1], bool); inner[1:-1] = True
        row = dict(model=arm, method=method)
        for k, b in enumerate("ACGT"):
            row[f"{b} in {lo}…{hi}"] = float(a[(base == k) & inside].mean())
            row[f"{b} elsewhere"] = float(a[(base == k) & ~inside & inner].mean())
        row[f"A/T share of bases in {lo}…{hi}"] = float(np.isin(base[:, inside], (0, 3)).mean())
        rows.append(row)
    return pd.DataFrame(rows)

def box_attribution(expls:dict) -> pd.DataFrame:
    "Attribution summed over the first TATAWAW match within −34…−22 of each explained promoter, " \
    "by where the match starts."
    from findna.interpret import motif_sites
    rows = []
    for (arm, method), e in expls.items():
        pp = e.per_position
        for i, s in enumerate(e.sequences):
            hits = [(a, b) for a, b in motif_sites(s, "TATAWAW") if a <= 12]
            if hits: rows.append(dict(model=arm, method=method, start=hits[0][0] - 34,
                                      box=float(pp[i, hits[0][0]:hits[0][1]].sum()),
                                      log_odds=float(e.scores[i])))
    d = pd.DataFrame(rows)
    if d.empty: return d
    g = d.groupby(["model", "method", "start"])
    out = g.box.agg(["size", "mean"]).rename(columns={"size": "records", "mean": "mean box attribution"})
    out["share > 0"] = g.box.apply(lambda v: float((v > 0).mean()))
    out["mean log-odds"] = g.log_odds.mean()
    return out.reset_index()

def _md(df:pd.DataFrame) -> str:
    "A small markdown table."
    cols = list(df.columns)
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] +
                     ["| " + " | ".join(fmt(v) for v in r) + " |" for r in df.itertuples(index=False)])

def write_readme(fine:pd.DataFrame, res, stats:pd.DataFrame, boxes:pd.DataFrame, bases:pd.DataFrame,
                 region:pd.DataFrame, args, timing:dict) -> None:
    "results/interpret/README.md: commands, budget, CPU, tables, figures and the generated reading " \
    "(the plain reading is added by hand)."
    cols = ["model", "method", "records", "mean_log_odds", "predicted_target", "peak", "share in TATA box",
            "positions in TATA box", "n_seqlets", "with_motif", "chance", "records_with_motif", "neg_n_seqlets",
            "neg_with_motif", "neg_chance"]
    hand = (OUT / "reading.md").read_text() if (OUT / "reading.md").is_file() else "## Reading\n\n(not written yet)\n"
    text = f"""# Where do the prom_core_tata classifiers look? (teacher-initialised vs from scratch)

Generated by `experiments/interpret.py`. The plain reading (next section) is written by hand from the figures and
tables below (kept in `reading.md`, which the script includes); the "generated reading" at the end comes from the
numbers alone.

```bash
nice -n 10 python experiments/interpret.py --threads {args.threads} --n-examples {args.n_examples}
```

(Run here as its stages, one process per arm and then per arm and method, in parallel: `--stage finetune --arms
teacher` and `--arms scratch`; `--stage explain --arms A --methods M` for the four pairs; then `--stage report`.
The stages give the same files as the single command. The fine-tuned runs and the attribution arrays stay in
`runs/interpret/`, which git ignores.)

- **Task**: GUE `prom_core_tata` (70 nt, −34…+35 around the TSS; TATA-box promoters vs. non-promoters), official
  train / dev / test; validation = dev (deduplicated), test scored once.
- **Fine-tuning budget (both arms the same)**: {BUDGET['epochs']} epochs, batch {BUDGET['batch_size']}, AdamW lr
  {BUDGET['lr']} (the task's reference rate), warm-up {BUDGET['warmup_fraction']}, weight decay and dropouts the task's
  reference, seed {BUDGET['seed']}, precision `{BUDGET['precision']}` (bf16 autocast on this CPU), \
one thread, `nice -n 10`;
  the best validation MCC step is kept. `teacher`: the shipped `{TEACHER}` teacher; `scratch`: the same architecture
  from random weights.
- **Attributions**: the log-odds of class 1 (promoter) on {int(res.summary.records.iloc[0])} test promoters
  ({'all' if not args.n_examples else 'a seeded sample'} of the \
{int(stats.rows[(stats.label == 1) & (stats.split == 'test')].iloc[0])} class-1 test
  rows), the same records for both models; ISM (`tangermeme.saturation_mutagenesis`, every substitution) and
  DeepLIFT/SHAP (`tangermeme.deep_lift_shap`, 20 dinucleotide shuffles per record, seed 0); seqlets with
  `tangermeme.recursive_seqlets` (p < 0.01, 4–20 nt). Attribution time per model and method:
{chr(10).join(f"  {a}: {t['cpu_s'] / 60:.1f} min CPU ({t['wall_s'] / 60:.1f} min wall);" for a, t in timing.items())}
- **CPU**: {cpu_line()}; {args.threads} thread(s) per process; the machine (2 cores) was shared with other jobs, so
  wall times are long.

{hand}

## Fine-tuning

{_md(fine)}

## The data: where TATAWAW sits

{_md(stats)}

Rows of each split and class (`label` 1: promoter) holding a TATAWAW match, and how many matches start at each
position from −34 to −28 (a TATA box sits about 30 bp upstream of the TSS) or elsewhere.

## Attributions

![mean ISM profile](explain/profile_ism.png)

![mean DeepLIFT/SHAP profile](explain/profile_deep_lift_shap.png)

Logos of four random explained promoters (rows), each model and method (columns):

![logos](explain/logos.png)

Logos of the first three explained promoters with a TATAWAW match starting at −34…−31:

![logos of TATA-box promoters](explain/logos_tatawaw.png)

Mean attribution of a base by its identity (over all positions of the explained promoters), and the share of all
positive attribution that sits on C or G:

{_md(bases)}

The dip of the profiles over the TATA box: is it the position, or the bases that sit there? Mean attribution of each
base inside −32…−27 and elsewhere:

{_md(region)}

{_md(res.summary[[c for c in cols if c in res.summary]])}

`share in TATA box`: share of all positive attribution that falls on −31…−24 \
(`positions in TATA box`: the share for
a flat profile). `with_motif`: share of seqlets overlapping a TATAWAW match by at least 4 nt; `chance`: the same for
spans of the same lengths placed at random in the same records; `neg_*`: the same for negative seqlets (spans whose
bases lower the promoter log-odds; tangermeme called on the negated attributions). Seqlets: `explain/seqlets.csv`.

### The TATA box itself
For every explained promoter with a TATAWAW match starting within −34…−22: \
the attribution summed over the seven bases
of the match (positive: the box raises the promoter log-odds), by where the match starts; and the mean log-odds the
model gives those records (all explained promoters: see `mean_log_odds` above).

{_md(boxes)}

{res.reading.replace('## Reading', '## Generated reading')}
"""
    (OUT / "README.md").write_text(text)
    print(f"{OUT / 'README.md'} written")

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("FINDNA_DATA", str(ROOT.parent / "shared" / "data")))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--stage", choices=("all", "finetune", "explain", "report"), default="all",
                   help="all: the three in order; finetune / explain: these --arms only (e.g. in parallel); report")
    p.add_argument("--arms", default="teacher,scratch", help="comma list of the arms to fine-tune or explain")
    p.add_argument("--methods", default=",".join(METHODS), help="explain stage: comma list of ism, deep_lift_shap")
    p.add_argument("--n-examples", type=int, default=100, help="test promoters to explain (a seeded sample); 0: all")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    if not (data / "GUE" / "prom" / TASK).is_dir():
        sys.exit(f"{data}/GUE/prom/{TASK} not found: pass --data or set FINDNA_DATA")
    arms = args.arms.split(",") if args.stage != "all" else list(ARMS)
    if args.stage in ("all", "finetune"): finetune_arms(data, args.threads, arms)
    if args.stage in ("all", "explain"): explain_arms(data, args, arms)
    # finished: read
    if args.stage in ("all", "report"): report(finetune_arms(data, args.threads, list(ARMS)), data, args)

if __name__ == "__main__": main()
