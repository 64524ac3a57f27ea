"""The learning rate chosen on validation (`lr="auto"`), the supervised CNN baseline, and the small-data defaults of
your own folders: the command line on a folder, the choice is the best on validation, test is scored once, finished
rates are read back, the grid's `cnn` arm, and records written before these settings existed still load."""
import json, shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest
from findna import finetuning as FT
from findna.cnn import BaselineCNN, load_classifier
from findna.evaluation import EvalConfig, evaluate_grid, plan_grid
from findna.finetuning import LR_GRID, MIN_STEPS, FinetuneConfig, FinetuneError, finetune, finetune_cli, predict
from findna.tasks import load, user_task, write_motif_task, write_synthetic_data

@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    "A small folder of your own: 120 training rows of 60 nt (TATAAA planted in class 1), no dev split, a test split."
    return write_motif_task(tmp_path_factory.mktemp("my_task"), dict(train=120, test=60), length=60)

def test_cli_cnn_lr_auto_on_a_folder(folder, tmp_path, monkeypatch, capsys):
    ("`findna-finetune --task <folder> --preset cnn --lr auto`: every rate's validation score and the choice in"
     " results.json.")
    scored, real = [], FT.predict
    monkeypatch.setattr(FT, "predict", lambda m, split, *a, **k: scored.append(len(split)) or real(m, split, *a, **k))
    out = tmp_path / "cnn"
    finetune_cli(["--task", str(folder), "--preset", "cnn", "--lr", "auto", "--epochs", "3", "--min-steps", "0",
                  "--precision", "fp32", "--out-dir", str(out), "--no-verbose"])
    rec = json.loads((out / "results.json").read_text())
    search = rec["lr_search"]
    assert search["grid"] == list(LR_GRID) and [p["lr"] for p in search["points"]] == list(LR_GRID)
    best = max(search["points"], key=lambda p: (p["val"], -p["lr"]))
    assert search["chosen"] == best["lr"] == rec["hyperparameters"]["lr"] and rec["val"][rec["metric"]] == best["val"]
    assert scored.count(rec["sizes"]["test"]) == 1 and rec["sizes"]["test"] != rec["sizes"]["val"]   # test: once
    assert all(len(p["curve"]) == 3 for p in search["points"])          # one validation per epoch, every rate
    assert isinstance(load_classifier(out / "best"), BaselineCNN) and (out / "lr-search.png").is_file()
    assert sorted(p.name for p in (out / "lr-search").iterdir()) == sorted(f"lr{r:g}" for r in LR_GRID)
    # weights: only the chosen, in best/
    assert not any((out / "lr-search" / f"lr{r:g}" / "best").exists() for r in LR_GRID)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"findna-finetune: {folder}, from scratch (preset cnn: random weights), "
                                 "full fine-tuning")
    assert printed[1].startswith(f"learning rate chosen on validation: {search['chosen']:g} "
                                 f"(val {rec['metric']}: 0.00025 → ")
    assert ([l[6:] for l in printed if l.startswith("note: ")] == rec["notes"]
            and "the GenomicBenchmarks baseline CNN" in printed[-1])

def test_ties_go_to_the_smaller_rate(folder, tmp_path, monkeypatch):
    "Equal validation scores: the smaller rate is chosen (and only its checkpoint scores test)."
    real = FT._fit
    monkeypatch.setattr(FT, "_fit", lambda *a, **k: {**real(*a, **k), "score": 0.5})
    rec = finetune(task=str(folder), preset="cnn", lr="auto", lr_grid="2e-3,1e-3", epochs=1, min_steps=0,
                   precision="fp32", out_dir=str(tmp_path / "t"), verbose=False)
    assert rec["lr_search"]["chosen"] == 1e-3 and rec["lr_search"]["grid"] == [1e-3, 2e-3]

def test_a_killed_search_reads_finished_rates_back(folder, tmp_path, monkeypatch):
    "Killed during the third rate: the rerun trains only the third and fourth; the result equals an uninterrupted run."
    kw = dict(task=str(folder), preset="cnn", lr="auto", epochs=2, min_steps=0, precision="fp32", verbose=False)
    whole = finetune(out_dir=str(tmp_path / "whole"), **kw)
    trained, real = [], FT._train
    def dies_on_third(cfg, *a, **k):
        trained.append(cfg.lr)
        if len(trained) == 3: raise KeyboardInterrupt("killed")
        return real(cfg, *a, **k)
    monkeypatch.setattr(FT, "_train", dies_on_third)
    with pytest.raises(KeyboardInterrupt): finetune(out_dir=str(tmp_path / "k"), **kw)
    monkeypatch.setattr(FT, "_train", lambda cfg, *a, **k: trained.append(cfg.lr) or real(cfg, *a, **k))
    again = finetune(out_dir=str(tmp_path / "k"), **kw)
    assert trained == list(LR_GRID[:3]) + list(LR_GRID[2:])
    assert again["lr_search"]["chosen"] == whole["lr_search"]["chosen"] and again["test"] == whole["test"]
    assert [p["val"] for p in again["lr_search"]["points"]] == [p["val"] for p in whole["lr_search"]["points"]]

def test_your_folder_defaults_and_registry_tasks_unchanged(folder):
    "Your own folder: lr 'auto' and the step floor by default; registry tasks keep their reference settings."
    hp = FT.resolve_hyperparameters(FinetuneConfig(task=str(folder)), user_task(folder))
    assert (hp["lr"], hp["min_steps"], hp["source"]["lr"]) == ("auto", MIN_STEPS, "default for your own folders")
    hp = FT.resolve_hyperparameters(FinetuneConfig(task=str(folder), lr=1e-3, min_steps=0), user_task(folder))
    assert (hp["lr"], hp["min_steps"]) == (1e-3, 0)
    hp = FT.resolve_hyperparameters(FinetuneConfig(task=str(folder), epochs=3), user_task(folder))
    assert (hp["epochs"], hp["min_steps"], hp["lr"]) == (3, 0, "auto")      # epochs you give are not extended
    from findna.tasks import get_task
    hp = FT.resolve_hyperparameters(FinetuneConfig(task="prom_core_all"), get_task("prom_core_all"))
    assert (hp["lr"], hp["min_steps"]) == (5e-4, 0)

def test_the_step_floor_extends_epochs(folder, tmp_path):
    rec = finetune(task=str(folder), preset="cnn", lr=1e-3, epochs=1, min_steps=20, batch_size=32, precision="fp32",
                   out_dir=str(tmp_path / "f"), verbose=False)
    assert rec["steps"]["per_epoch"] == 4 and rec["steps"]["total"] == 20  # 108 rows / 32 → 4 steps; 5 epochs

def test_grid_cnn_arm_and_lr_auto(tmp_path):
    "The grid's `cnn` arm is the baseline CNN from scratch, with lr='auto' passed to every cell."
    root = write_synthetic_data(tmp_path / "data", seed=0)
    ev = EvalConfig(tasks="prom_core_all", data_dir=str(root), seeds="0", inits="scratch,cnn", scratch_preset="tiny",
                    lr="auto", lr_grid="1e-3,3e-3", epochs=1, batch_size=16, precision="fp32",
                    out_dir=str(tmp_path / "g"), verbose=False)
    cells = {init: cfg for _, init, _, cfg in plan_grid(ev, tmp_path / "g").cells}
    assert ((cells["cnn"].preset, cells["scratch"].preset, cells["cnn"].lr, cells["cnn"].lr_grid)
            == ("cnn", "tiny", "auto", "1e-3,3e-3"))
    table, _ = evaluate_grid(ev)
    assert sorted(table.init) == ["cnn", "kmer", "scratch"] and (table.status == "ok").all()
    rec = json.loads((tmp_path / "g/cells/prom_core_all/cnn/seed0/results.json").read_text())
    assert rec["lr_search"]["grid"] == [1e-3, 3e-3] and rec["init"]["preset"] == "cnn"
    with pytest.raises(FinetuneError, match="reserved names"): EvalConfig(pretrained="cnn=a,teacher=b", inits="teacher")

def test_records_from_before_these_settings_still_load(tmp_path):
    "A finished run whose config predates lr_grid/min_steps is read back (a missing field counts as its default)."
    root = write_synthetic_data(tmp_path / "data", seed=0)
    kw = dict(task="prom_core_all", data_dir=str(root), preset="tiny", epochs=1, batch_size=16, lr=3e-3,
              precision="fp32", out_dir=str(tmp_path / "old"), verbose=False)
    rec = finetune(**kw)
    path = tmp_path / "old" / "results.json"
    old = json.loads(path.read_text())
    for k in ("lr_grid", "min_steps"): old["config"].pop(k)
    path.write_text(json.dumps(old))
    assert finetune(**kw)["wall_time_s"] == rec["wall_time_s"]
    with pytest.raises(FinetuneError, match="min_steps: None there, 5 now"): finetune(**kw, min_steps=5)

def test_a_finished_fixed_rate_run_counts_as_its_point(folder, tmp_path, monkeypatch):
    "A finished run at one rate of the grid is adopted (not retrained); other settings or another rate are not."
    kw = dict(task=str(folder), preset="cnn", epochs=2, min_steps=0, precision="fp32", verbose=False)
    fixed = finetune(lr=5e-4, out_dir=str(tmp_path / "fixed"), **kw)
    search = FinetuneConfig(lr="auto", out_dir=str(tmp_path / "s"), **kw)
    assert not FT.adopt_lr_point(tmp_path / "fixed", FinetuneConfig(lr="auto", lr_grid="1e-3,2e-3",
                                                                    out_dir=str(tmp_path / "x"), **kw))
    assert not FT.adopt_lr_point(tmp_path / "fixed", FinetuneConfig(lr="auto", out_dir=str(tmp_path / "y"),
                                                                    **{**kw, "epochs": 3}))
    assert FT.adopt_lr_point(tmp_path / "fixed", search)
    trained, real = [], FT._train
    monkeypatch.setattr(FT, "_train", lambda cfg, *a, **k: trained.append(cfg.lr) or real(cfg, *a, **k))
    rec = finetune(search)
    point = next(p for p in rec["lr_search"]["points"] if p["lr"] == 5e-4)
    assert point["val"] == fixed["val"][fixed["metric"]]
    if rec["lr_search"]["chosen"] == 5e-4:  # chosen: trained again (no weights were adopted)
        assert trained.count(5e-4) == 1 and any("trained again" in n for n in rec["notes"])
    else: assert 5e-4 not in trained and len(trained) == 3
