"""The horizon probe: the first steps of the long run's schedule (6,250 steps x 16 x 1 kb on chr20, lr 1e-3 with 5 %
warm-up, teacher momentum 0.996), seed 0, with DINO centring vs Sinkhorn-Knopp teacher targets. The 313-step ablation
is too short to show what happens after the warm-up; this shows it. Exploratory: one seed each.

    python experiments/horizon.py            # reads the logs beside this file, writes horizon.png and horizon.md

The logs are copies of `metrics.jsonl` / `config.json` of the two runs (commands in README.md of this folder).
"""
import json, math
from pathlib import Path
import matplotlib.pyplot as plt
from findna.runs import read_metrics

HERE = Path(__file__).resolve().parents[1] / "results" / "recipe-ablation" / "horizon"   # logs in, figure out
RUNS = {"center (first default)": HERE / "center-seed0", "sinkhorn (default)": HERE / "sinkhorn-seed0"}

fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
rows = ["| targets | step | student acc | teacher acc | effective prototypes (of 256, held out) | "
        "per-sample entropy / log K |",
        "|---|---:|---:|---:|---:|---:|"]
for i, (name, run) in enumerate(RUNS.items()):
    m = read_metrics(run)
    tr, va = m[m.split == "train"], m[m.split == "val"]
    axes[0].plot(tr.step, tr.effective_prototypes, color=f"C{i}", alpha=0.35)
    axes[0].plot(va.step, va.effective_prototypes, "o-", color=f"C{i}", label=name)
    axes[1].plot(va.step, va.teacher_entropy / math.log(256), "o-", color=f"C{i}", label=name)
    axes[2].plot(va.step, va.mlm_acc, "o-", color=f"C{i}", label=f"{name}: student")
    axes[2].plot(va.step, va.teacher_mlm_acc, "s--", color=f"C{i}", label=f"{name}: teacher")
    for _, v in va.iterrows():
        rows.append(f"| {name} | {int(v.step)} | {v.mlm_acc:.3f} | {v.teacher_mlm_acc:.3f} | "
                    f"{v.effective_prototypes:.1f} | {v.teacher_entropy / math.log(256):.2f} |")
axes[0].set(title="effective prototypes (dots: held out; line: train batch)", xlabel="step", yscale="log")
axes[0].axhline(64, color="grey", ls=":", lw=1); axes[0].text(5, 66, "K/4", fontsize=7, color="grey")
axes[1].set(title="per-sample teacher entropy / log K", xlabel="step")
axes[2].set(title="held-out masked accuracy", xlabel="step")
for ax in axes: ax.axvline(312, color="grey", ls="--", lw=0.8); ax.legend(fontsize=7)
fig.tight_layout(); fig.savefig(HERE / "horizon.png", dpi=110)
(HERE / "horizon.md").write_text("\n".join(rows) + "\n\nThe dashed line at step 312 is the end of the warm-up and of "
                                 "the last-layer freeze (5 % of 6,250).\n")
print("\n".join(rows))
