"""The fine-tuning run notebooks end to end under papermill, as a user runs them from the repository root:
10_finetune (a given data root and pretrained folder; a misspelt parameter; the defaults run under nbdev_test) and 11_evaluate (defaults,
then the same grid again, which must not rerun finished cells)."""
import json
from pathlib import Path
import pytest
papermill = pytest.importorskip("papermill")
from conftest import ROOT
from findna.model import FinDNA, FinDNAConfig
from findna.tasks import write_synthetic_data

NBS = ROOT / "nbs"

def execute(name, out_nb, **parameters):
    return papermill.execute_notebook(str(NBS / name), str(out_nb), parameters=parameters, kernel_name="python3",
                                      cwd=str(ROOT), progress_bar=False, log_output=False)

def test_parameters_cells_survive_clean():
    for name in ("10_finetune.ipynb", "11_evaluate.ipynb"):
        cells = json.loads((NBS / name).read_text())["cells"]
        assert sum(c.get("metadata", {}).get("tags") == ["parameters"] for c in cells) == 1, name
        assert len(papermill.inspect_notebook(str(NBS / name))) > 20          # every parameter line parses

def test_finetune_with_data_root_and_pretrained(tmp_path):
    root = write_synthetic_data(tmp_path / "data")
    teacher = FinDNA(FinDNAConfig.preset("tiny"), seed=0).save_pretrained(tmp_path / "pre" / "teacher", role="teacher")
    execute("10_finetune.ipynb", tmp_path / "out.ipynb", task="prom_core_all", data_dir=str(root),
            pretrained=str(teacher.parent), seed=1, epochs=1, batch_size=32, precision="fp32", out_dir=str(tmp_path / "run"))
    rec = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (rec["seed"], rec["init"]["kind"], rec["init"]["role"]) == (1, "pretrained", "teacher")
    assert rec["hyperparameters"]["lr"] == 5e-4 and rec["hyperparameters"]["source"]["lr"] == "reference"   # not the smoke lr
    for f in ("curves.png", "confusion.png", "metrics.jsonl", "best/model.safetensors"): assert (tmp_path / "run" / f).is_file()
    assert not list(NBS.glob("*.png")) and not (NBS / "run").exists()         # nothing written into nbs/

def test_finetune_rejects_unknown_parameter(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError, match=r"unknown parameter\(s\) \['epoch'\]"):
        execute("10_finetune.ipynb", tmp_path / "out.ipynb", epoch=3, out_dir=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()

def test_evaluate_then_resume(tmp_path):
    root = write_synthetic_data(tmp_path / "data")
    teacher = FinDNA(FinDNAConfig.preset("tiny"), seed=0).save_pretrained(tmp_path / "pre" / "teacher", role="teacher")
    out, params = tmp_path / "grid", dict(data_dir=str(root), tasks="prom_core_all,tf1", seeds="0,1", pretrained=str(teacher.parent),
                                          epochs=1, batch_size=16, precision="fp32")
    execute("11_evaluate.ipynb", tmp_path / "out.ipynb", out_dir=str(out), **params)
    text = (out / "results.md").read_text()
    assert "| prom_core_all |" in text and "k-mer floor" in text and "## Unavailable tasks" in text and "tf1" in text
    for f in ("results.csv", "results.png", "cells.csv"): assert (out / f).is_file()
    cells = sorted(out.glob("cells/*/*/seed*/results.json"))
    assert [str(p.relative_to(out / "cells")) for p in cells] == [
        f"prom_core_all/{i}/seed{s}/results.json" for i in ("kmer", "pretrained", "scratch") for s in (0, 1)]
    before = {p: p.stat().st_mtime_ns for p in cells}
    execute("11_evaluate.ipynb", tmp_path / "again.ipynb", out_dir=str(out), **params)
    assert {p: p.stat().st_mtime_ns for p in cells} == before                  # finished cells are not rerun
