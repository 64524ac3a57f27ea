"""The run notebooks 09-13 end to end under papermill, as a user runs them from the repository root (their defaults
also run under nbdev_test): each refuses a misspelt parameter and converts strings by type; 10_finetune with a data root
and a pretrained folder, and on a folder of your own; 11_evaluate twice (finished cells are not rerun); 12_embeddings
writes its report once; 13_interpret explains two classifiers side by side."""
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
    for name in ("09_pretrain.ipynb", "10_finetune.ipynb", "11_evaluate.ipynb", "12_embeddings.ipynb",
                 "13_interpret.ipynb"):
        cells = json.loads((NBS / name).read_text())["cells"]
        assert sum(c.get("metadata", {}).get("tags") == ["parameters"] for c in cells) == 1, name
        source = "".join(next(c["source"] for c in cells if c.get("metadata", {}).get("tags") == ["parameters"]))
        assigned = [line.split("=")[0].strip() for line in source.splitlines()
                    if line and not line.startswith((" ", "#"))]
        if name == "13_interpret.ipynb":
            assert list(papermill.inspect_notebook(str(NBS / name))) == assigned   # every line
        else: assert len(papermill.inspect_notebook(str(NBS / name))) > 20          # every parameter line parses

def test_finetune_with_data_root_and_pretrained(tmp_path):
    root = write_synthetic_data(tmp_path / "data")
    teacher = FinDNA(FinDNAConfig.preset("tiny"), seed=0).save_pretrained(tmp_path / "pre" / "teacher", role="teacher")
    execute("10_finetune.ipynb", tmp_path / "out.ipynb", task="prom_core_all", data_dir=str(root),
            pretrained=str(teacher.parent), seed=1, epochs=1, batch_size=32, precision="fp32",
            out_dir=str(tmp_path / "run"))
    rec = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (rec["seed"], rec["init"]["kind"], rec["init"]["role"]) == (1, "pretrained", "teacher")
    # not the smoke lr
    assert rec["hyperparameters"]["lr"] == 5e-4 and rec["hyperparameters"]["source"]["lr"] == "reference"
    for f in ("curves.png", "confusion.png", "metrics.jsonl", "best/model.safetensors"):
        assert (tmp_path / "run" / f).is_file()
    assert not list(NBS.glob("*.png")) and not (NBS / "run").exists()         # nothing written into nbs/

def test_finetune_rejects_unknown_parameter(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError, match=r"unknown parameter\(s\) \['epoch'\]"):
        execute("10_finetune.ipynb", tmp_path / "out.ipynb", epoch=3, out_dir=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()

def test_evaluate_then_resume(tmp_path):
    root = write_synthetic_data(tmp_path / "data")
    teacher = FinDNA(FinDNAConfig.preset("tiny"), seed=0).save_pretrained(tmp_path / "pre" / "teacher", role="teacher")
    out, params = tmp_path / "grid", dict(data_dir=str(root), tasks="prom_core_all,tf1", seeds="0,1",
                                          pretrained=str(teacher.parent), epochs=1, batch_size=16, precision="fp32")
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

# ------------------------------------------------------------------------------------------- every run notebook, 09-13
@pytest.mark.parametrize("name, typo", [("09_pretrain.ipynb", "step"), ("10_finetune.ipynb", "epoch"),
                                        ("11_evaluate.ipynb", "seed"), ("12_embeddings.ipynb", "n_per_splits"),
                                        ("13_interpret.ipynb", "method")])
def test_every_run_notebook_refuses_unknown_parameters(tmp_path, name, typo):
    with pytest.raises(papermill.PapermillExecutionError, match=rf"unknown parameter\(s\) \['{typo}'\]"):
        execute(name, tmp_path / "out.ipynb", **{typo: 3})

def test_pretrain_notebook_types_its_parameters(tmp_path):
    execute("09_pretrain.ipynb", tmp_path / "out.ipynb", prenorm="no", steps="4", out=str(tmp_path / "run"))
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["prenorm"] is False and cfg["steps"] == 4 and cfg["resolved"]["model"]["prenorm"] is False
    assert (tmp_path / "run" / "teacher" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["state"] == "finished"

def test_finetune_notebook_on_your_own_folder_with_typed_flags(tmp_path):
    import numpy as np
    rng, folder = np.random.default_rng(0), tmp_path / "mine"
    folder.mkdir()
    for split, n in (("train", 60), ("dev", 20), ("test", 20)):
        rows = [("".join(rng.choice(list("ACGT"), 30)) + ("GGGGGG" if i % 2 else "TTTTTT"), i % 2) for i in range(n)]
        (folder / f"{split}.csv").write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in rows))
    execute("10_finetune.ipynb", tmp_path / "out.ipynb", task=str(folder), metric="mcc", rc_tta="no",
            preset="tiny", epochs=2, batch_size=16, lr=3e-3, precision="fp32", out_dir=str(tmp_path / "run"))
    rec = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (rec["task"], rec["metric"], rec["benchmark"], rec["rc_tta"]) == ("mine", "mcc", "user", False)
    assert rec["sizes"]["test"] == 20                                            # the whole test split

def test_evaluate_notebook_refuses_repeated_seeds(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError, match="repeats a seed"):
        execute("11_evaluate.ipynb", tmp_path / "out.ipynb", seeds="0,0", inits="scratch")

def test_embeddings_notebook_writes_its_report(tmp_path):
    execute("12_embeddings.ipynb", tmp_path / "out.ipynb", tasks="prom_core_all", n_per_split=20, n_windows=20,
            n_boot=20, precision="fp32", out_dir=str(tmp_path / "emb"))
    out = tmp_path / "emb"
    for f in ("probes.csv", "comparisons.csv", "reading.md", "summary.json", "umap_prom_core_all_mean.png",
              "population_mean.png"):
        assert (out / f).is_file(), f
    assert json.loads((out / "run.json").read_text())["kind"] == "embeddings"
    # never overwritten by another run
    with pytest.raises(papermill.PapermillExecutionError, match="finished embeddings run"):
        execute("12_embeddings.ipynb", tmp_path / "again.ipynb", tasks="prom_core_all", n_per_split=20, n_windows=0,
                precision="fp32", out_dir=str(out))

@pytest.mark.parametrize("name,old,new,read", [
    ("10_finetune.ipynb", "seed = 0", "seed = 5", lambda ns: (ns["cfg"].seed, ns["results"]["seed"])),
    ("11_evaluate.ipynb", 'seeds = "0,1"', 'seeds = "3"', lambda ns: (ns["ev"].seeds, sorted(set(ns["cells"].seed)))),
    ("12_embeddings.ipynb", "seed = 0", "seed = 4",
     lambda ns: (ns["cfg"].seed, ns["res"].summary["parameters"]["seed"])),
    ("09_pretrain.ipynb", "seed = 0", "seed = 2",
     lambda ns: (ns["cfg"].seed, json.loads((Path(ns["cfg"].out) / "config.json").read_text())["seed"])),
    ("13_interpret.ipynb", "n_examples = 8", "n_examples = 5",
     lambda ns: (ns["cfg"].n_examples, sorted(set(ns["res"].summary.records))))])
def test_run_all_twice_in_one_kernel_takes_the_edited_parameters(name, old, new, read, monkeypatch):
    ("JupyterLab's loop: Run All, edit the parameters cell, Run All again in the same kernel: the second run uses the"
     " edit.")
    from execnb.shell import CaptureShell
    from execnb.nbio import read_nb
    monkeypatch.chdir(NBS)
    nb, sh = read_nb(NBS / name), CaptureShell()
    params = next(c for c in nb.cells if "parameters" in (c.metadata.get("tags") or []))
    assert old in params.source
    sh.run_all(nb, exc_stop=True)
    first = read(sh.user_ns)
    params.source = params.source.replace(old, new)
    sh.run_all(nb, exc_stop=True)
    second, value = read(sh.user_ns), new.split(" = ")[1].strip('"')
    assert (str(first[0]) != value
            and [str(v) if not isinstance(v, list) else ",".join(map(str, v)) for v in second] == [value, value])

def test_interpret_notebook_two_classifiers_side_by_side(tmp_path):
    root = write_synthetic_data(tmp_path / "data")
    from findna.finetuning import finetune
    for name, lr in (("a", 3e-3), ("b", 1e-3)):
        finetune(task="prom_core_all", data_dir=str(root), preset="tiny", epochs=1, batch_size=16, lr=lr,
                 precision="fp32", out_dir=str(tmp_path / name), verbose=False)
    execute("13_interpret.ipynb", tmp_path / "out.ipynb", models=f"a={tmp_path / 'a'},b={tmp_path / 'b' / 'best'}",
            data_dir=str(root), task="prom_core_all", n_examples="4", methods="ism", motif="GGGCGG", offset=0, marks="",
            n_logos=2, out_dir=str(tmp_path / "ex"))
    summary = json.loads((tmp_path / "ex" / "summary.json").read_text())
    assert [(r["model"], r["method"], r["records"]) for r in summary["summary"]] == [("a", "ism", 4), ("b", "ism", 4)]
    for f in ("profile_ism.png", "logos.png", "seqlets.csv", "reading.md", "attributions_b_ism.npz"):
        assert (tmp_path / "ex" / f).is_file(), f
    assert not list(NBS.glob("*.png"))                                          # nothing written into nbs/

def test_the_visible_code_of_index_runs_in_a_fresh_interpreter(tmp_path):
    "What a reader sees on the front page (hidden cells left out), pasted into a new Python in order, runs."
    import subprocess, sys
    cells = json.loads((NBS / "index.ipynb").read_text())["cells"]
    code = [("".join(c["source"])) for c in cells
            if c["cell_type"] == "code" and not "".join(c["source"]).startswith("#|")]
    assert code and "findna" in "\n".join(code)
    (tmp_path / "visible.py").write_text("\n\n".join(code) + "\n")
    done = subprocess.run([sys.executable, str(tmp_path / "visible.py")], cwd=tmp_path, capture_output=True, text=True,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "test accuracy" in done.stdout
