"""Ship a pretraining run's teacher as `data/pretrained/<name>/` (safetensors + config + metadata + README).

    python experiments/make_pretrained.py RUN_DIR [--name findna-small-chr20] [--into data/pretrained]

A finished run ships its exported `teacher/`; an unfinished one ships the teacher of its last checkpoint and
says so (`interim: true`, the step, the tokens seen). The README records provenance, the held-out accuracy the
run measured at that step, and the sha256 of the weights (checked by tests/test_pretrained.py).
"""
import argparse, hashlib, json, sys
from pathlib import Path
import torch
from findna.model import FinDNA, FinDNAConfig, checkpoint_metadata
from findna.trainer import load_checkpoint, read_metrics

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "data" / "pretrained"   # where shipped models live

CARD = """## Model card

- **Intended use**: a starting point for fine-tuning DNA sequence classifiers (`findna.finetuning.finetune`,
  `findna-finetune`), frozen embeddings (`findna.model.embed`, `findna-embed`) and research on self-distillation
  pretraining at CPU scale. Inputs are DNA strings (A C G T N, IUPAC codes read as N), up to 1,000 nt as pretrained;
  longer inputs run (the layers mix every position) but were never seen in pretraining.
- **Training data**: human chromosome 20 only (GRCh37, 63 Mbp; the last 5 % held out), so other chromosomes,
  other species and non-genomic sequence are out of distribution; repeats are not masked.
- **Budget**: 10⁸ nucleotides on a 2-core CPU, the `small` network (1.8 M parameters, embedding width 132) — about
  3 % of the reference recipe's hg38 budget (47,000 steps × 64 × 1 kb ≈ 3 × 10⁹ nt) \
with a network a seventh of the
  `paper` network's 12.6 M parameters. Expect a modest representation: read the held-out
  masked accuracy above beside the majority-base rate, and the downstream results in `results/`.
- **Limitations**: not validated for clinical or diagnostic use; no variant-effect calibration; a single seed;
  downstream gains over training from scratch and over a k-mer baseline vary by task (`results/downstream/`,
  `results/verdict/`).
- **Licence**: the weights are released with findna under the Apache License 2.0 (`LICENSE`); the training
  sequence is the public GRCh37 reference (chr20, as packaged by Debian's `vt-examples`).
"""

def ship(run:Path, name:str, doc:str, note:str="", into:Path=HERE) -> Path:
    cfg = json.loads((run / "config.json").read_text())
    state = load_checkpoint(run)
    step, window = state["step"], cfg["resolved"]["window"]
    teacher = FinDNA(FinDNAConfig.from_dict(state["model_config"])); teacher.load_state_dict(state["teacher"])
    val = read_metrics(run).query("split == 'val' and step <= @step").iloc[-1]
    info = dict(recipe=cfg["recipe"], objective=cfg["objective"], step=step, steps_planned=cfg["steps"],
                interim=step < cfg["steps"], tokens_seen=step * cfg["batch_size"] * window, window=window,
                genome=Path(cfg["resolved"]["data"]["fasta"]).name, genome_bytes=cfg["resolved"]["data"]["bytes"],
                heldout=cfg["resolved"]["split"], seed=cfg["seed"], precision=cfg["resolved"]["precision"],
                heldout_student_acc=round(float(val.mlm_acc), 4),
                heldout_teacher_acc=round(float(val.teacher_mlm_acc), 4),
                heldout_majority_rate=round(float(val.majority_rate), 4), heldout_step=int(val.step),
                effective_prototypes=round(float(val.effective_prototypes), 1), run=str(run))
    out = teacher.save_pretrained(Path(into) / name, role="teacher", info=info)
    sha = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    size = (out / "model.safetensors").stat().st_size
    mlm_only = cfg["objective"] == "mlm"
    what = ("the MLM-only EMA teacher (no self-distillation)" if mlm_only
            else f"the `{cfg['recipe']}` teacher (objective `{cfg['objective']}`)")
    protos = ("not trained (objective `mlm`: the DINO head never received a gradient; use the backbone and MLM head)"
              if mlm_only else f"{info['effective_prototypes']} of {teacher.config.out_dim}")
    (out / "README.md").write_text(f"""# `{name}`: {what} pretrained on human chr20 (CPU)

Load it with `FinDNA.from_pretrained("{name}")` (or this folder's path); fine-tune it with
`papermill nbs/10_finetune.ipynb out.ipynb -p pretrained {name} ...`; \
embed with `embed(FinDNA.from_pretrained("{name}"), seqs)`.

| | |
|---|---|
| status | {"**interim**: step " + f"{step:,} of {cfg['steps']:,} planned (the run continues; see {doc})"
             if info["interim"] else f"the finished run's teacher ({cfg['steps']:,} steps)"}\
{"; " + note if note else ""} |
| network | `{cfg['preset']}` preset, {sum(p.numel() for p in teacher.parameters()):,} parameters \
(backbone + MLM head + DINO head, K = {teacher.config.out_dim}) |
| recipe | `{cfg['recipe']}` (objective `{cfg['objective']}`, \
teacher targets `{cfg.get('teacher_targets') or 'center'}`), \
{cfg['batch_size']} windows × {window} nt per step, lr {cfg['lr']}, {info['precision']} |
| tokens seen | {info['tokens_seen']:,} nt |
| genome | `{info['genome']}` ({info['genome_bytes']:,} bytes; human chr20, GRCh37, from the project's shared data) |
| held out | {info['heldout']} (never sampled for training) |
| held-out masked accuracy at step {info['heldout_step']:,} | teacher {info['heldout_teacher_acc']:.4f}, \
student {info['heldout_student_acc']:.4f}, majority base {info['heldout_majority_rate']:.4f} |
| effective prototypes (held-out) | {protos} |
| `model.safetensors` | {size:,} bytes, sha256 `{sha}` |

{CARD}
Regenerate: `python experiments/make_pretrained.py {run} --name {name}\
{'' if Path(into).resolve() == HERE else ' --into ' + str(into)} --doc {doc}` after the run's command in `{doc}`. \
`metadata.json` holds the same provenance as machine-readable JSON.
""")
    return out

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run"); ap.add_argument("--name", default="findna-small-chr20")
    ap.add_argument("--doc", default="results/pretrain-chr20-findna/README.md",
                    help="where the run's command is written")
    ap.add_argument("--note", default="", help="a sentence of context for the status row")
    ap.add_argument("--into", default=str(HERE), help="the folder that receives <name>/ (default: data/pretrained)")
    a = ap.parse_args()
    print(ship(Path(a.run), a.name, a.doc, a.note, Path(a.into)))
