"""Zero-shot variant scores on held-out human sequence: does the shipped teacher find the commonest human mutation,
C→T at CpG (and G→A on the other strand), less surprising than other substitutions?

    python experiments/variant_scores.py --threads 1        # results/variant-scores/{scores.tsv, README.md, cpg.png}

Positions are drawn uniformly (seeded) from the held-out last 5 % of chr20 (never seen in pretraining), skipping N;
every possible substitution at each position is scored with `findna.variants.score_variants` (masked log P(alt) −
log P(ref), both strands averaged). No labels are involved: the question is only whether the model's surprise follows
the known mutational spectrum. Data root: `$FINDNA_DATA` or ../shared/data.
"""
import argparse, os, sys
from pathlib import Path
import numpy as np
import pandas as pd
import torch
import matplotlib.pyplot as plt
from scipy.stats import mannwhitneyu
from findna.genome import Genome
from findna.variants import score_variants

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FINDNA_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "results" / "variant-scores"
FASTA = DATA / "genomes" / "human_chr20_GRCh37.fa.gz"
MODEL = "findna-small-chr20"

def sample_variants(g:Genome, n:int, seed:int=0) -> pd.DataFrame:
    "Every substitution at `n` random non-N positions of the held-out tail (last 5 %) of each contig, with its context."
    rng, rows = np.random.default_rng(seed), []
    chrom = g.chroms[0]; L = g.lengths[chrom]; lo = int(L * 0.95) + 600
    while len(rows) < 3 * n:
        p = int(rng.integers(lo, L - 600))
        ctx = g.fetch(chrom, p - 1, p + 2).upper()
        if "N" in ctx: continue
        cpg = (ctx[1] == "C" and ctx[2] == "G") or (ctx[1] == "G" and ctx[0] == "C")
        for alt in "ACGT":
            if alt == ctx[1]: continue
            transition = {ctx[1], alt} in ({"C", "T"}, {"A", "G"})
            kind = ("CpG transition (C>T / G>A)" if cpg and transition else "other transition" if transition
                    else "transversion")
            rows.append(dict(chrom=chrom, pos=p + 1, ref=ctx[1], alt=alt, id=".", line=len(rows) + 2,
                             cpg=cpg, kind=kind))
    return pd.DataFrame(rows)

def report(s:pd.DataFrame) -> str:
    order = ["CpG transition (C>T / G>A)", "other transition", "transversion"]
    g = s.groupby("kind").score
    cpg, rest = s.score[s.kind == order[0]], s.score[s.kind != order[0]]
    u = mannwhitneyu(cpg, rest, alternative="greater")
    lines = ["# Zero-shot variant scores on held-out chr20", "",
             f"Every substitution at {s.pos.nunique():,} random positions of the held-out last 5 % of chr20 "
             f"(GRCh37; never sampled in pretraining), scored by the shipped teacher `{MODEL}` "
             "with `findna.variants.score_variants`: "
             "masked log P(alt) − log P(ref), the mean of both strands. Higher = the alternative is less surprising. "
             "Command: `python experiments/variant_scores.py --threads 1`.", "",
             "| substitution | n | median score | mean score |", "|---|---:|---:|---:|"]
    lines += [f"| {k} | {int(g.size()[k])} | {g.median()[k]:.3f} | {g.mean()[k]:.3f} |" for k in order if k in g.size()]
    verdict = "agrees" if u.pvalue < 0.01 and cpg.median() > rest.median() else "does not clearly agree"
    lines += ["", f"**Reading.** CpG transitions score a median {cpg.median():.3f} against {rest.median():.3f} "
              f"for all other substitutions (one-sided Mann–Whitney U, p = {u.pvalue:.2g}): the model {verdict} "
              "with the human mutational spectrum, in which C→T at CpG (G→A on the other strand) is the commonest "
              "substitution, as far as masked-base surprise goes — the same process (methylated CpG deaminating to "
              "TpG) left the human reference depleted of CpG, which is what a model of the reference can learn. "
              "This is a sanity check of what pretraining learned, not a benchmark of variant effects "
              "(no labels; one chromosome; a small CPU-pretrained network).", "", "![scores by substitution](cpg.png)"]
    return "\n".join(lines) + "\n"

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, default=600)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report-only", action="store_true", help="the table and figure from the committed scores.tsv")
    a = ap.parse_args()
    if a.report_only: s = pd.read_csv(OUT / "scores.tsv", sep="\t")
    else:
        if not FASTA.is_file(): sys.exit(f"{FASTA} not found: set FINDNA_DATA to the shared data root")
        torch.set_num_threads(a.threads)
        OUT.mkdir(parents=True, exist_ok=True)
        g = Genome(FASTA, cache_dir="/tmp/findna-cache")
        s = score_variants(MODEL, g, sample_variants(g, a.positions), verbose=True)
        s.drop(columns="line").to_csv(OUT / "scores.tsv", sep="\t", index=False)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    order = ["CpG transition (C>T / G>A)", "other transition", "transversion"]
    ax.boxplot([s.score[s.kind == k] for k in order], tick_labels=[k.replace(" (", "\n(") for k in order],
               showfliers=False)
    ax.set(ylabel="log P(alt) − log P(ref)", title=f"{MODEL}, held-out chr20: {s.pos.nunique()} positions")
    fig.tight_layout(); fig.savefig(OUT / "cpg.png", dpi=110); plt.close(fig)
    (OUT / "README.md").write_text(report(s)); print((OUT / "README.md").read_text())
