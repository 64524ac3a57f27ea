"""How many of its outputs does a pretrained teacher use? Per-window entropy vs entropy of the batch mean,
with the library's collapse monitor (`findna.distill.collapse_stats`, the numbers a run logs).

    python experiments/teacher_outputs.py RUN_DIR [FASTA]
"""
import json, os, sys
from pathlib import Path
import numpy as np, torch
from findna.alphabet import one_hot
from findna.distill import collapse_stats
from findna.genome import Genome, WindowSampler
from findna.model import FinDNA
from findna.trainer import load_checkpoint

run = Path(sys.argv[1])
DATA = Path(os.environ.get("FINDNA_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
fasta = sys.argv[2] if len(sys.argv) > 2 else str(DATA / "genomes" / "human_chr20_GRCh37.fa.gz")
torch.set_num_threads(1)
teacher = FinDNA.from_pretrained(run / "teacher").eval()
tau_t = json.loads((run / "config.json").read_text()).get("tau_t") or 0.04
center = load_checkpoint(run)["loss"]["center"]
x = one_hot(torch.as_tensor(WindowSampler(Genome(fasta, cache_dir="/tmp/findna-cache"), 1000, seed=123).batch(0, 128)))
with torch.no_grad(): t_cls = teacher(x).cls_logits                                  # (B, n_cls, K)
s = {k: float(v) for k, v in collapse_stats(t_cls, center, tau_t).items()}
K = t_cls.shape[-1]
print(f"per-token entropy {s['teacher_entropy']:.3f} nats; entropy of the batch mean {s['mean_entropy']:.3f} "
      f"(max {np.log(K):.3f}); "
      f"{s['effective_prototypes']:.1f} effective prototypes of {K}; {s['distinct_argmax']:.0f} distinct arg-max")
