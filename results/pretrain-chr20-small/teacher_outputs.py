"""How many of its outputs does a pretrained teacher use? Per-window entropy vs entropy of the batch mean.

    python results/pretrain-chr20-small/teacher_outputs.py RUN_DIR [FASTA]
"""
import sys
import numpy as np, torch
from findna.alphabet import one_hot
from findna.genome import Genome, WindowSampler
from findna.model import FinDNA
from findna.trainer import load_checkpoint

run = sys.argv[1]
fasta = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/genomes/human_chr20_GRCh37.fa.gz"
torch.set_num_threads(1)
teacher = FinDNA.from_pretrained(f"{run}/teacher").eval()
center = load_checkpoint(run)["loss"]["center"]
x = one_hot(torch.as_tensor(WindowSampler(Genome(fasta, cache_dir="/tmp/findna-cache"), 1000, seed=123).batch(0, 128)))
with torch.no_grad(): p = torch.softmax((teacher(x).cls_logits - center) / 0.04, -1)     # (B, n_cls, K)
mean_p = p.reshape(-1, p.shape[-1]).mean(0)
print(f"per-token entropy {-(p * p.clamp_min(1e-12).log()).sum(-1).mean().item():.3f} nats; entropy of the batch mean "
      f"{-(mean_p * mean_p.clamp_min(1e-12).log()).sum().item():.3f} (max {np.log(p.shape[-1]):.3f})")
print("arg-max share per output:", (np.bincount(p.argmax(-1).flatten().numpy(), minlength=p.shape[-1]) / p[..., 0].numel()).round(3))
