"""Fine-tuning beyond the notebook: metrics equal scikit-learn's on the whole split, test is predicted exactly once
by the best checkpoint, resume and restart, every bad input, probes, long-sequence micro-batches, reverse-complement
averaging, the k-mer floor, the grid's report, and (when ../shared/data is present) real GUE data."""
import json
from dataclasses import asdict
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, roc_auc_score
from conftest import shared_data
from findna import finetuning as FT
from findna.alphabet import reverse_complement
from findna import evaluation as EV
from findna.evaluation import EvalConfig, evaluate_grid, write_evaluation_report, results_table, aggregate_results
from findna.finetuning import FinetuneConfig, FinetuneError, finetune, predict
from findna.metrics import classification_metrics, kmer_baseline, kmer_counts
from findna.model import FinDNA, FinDNAClassifier, FinDNAConfig
from findna.tasks import Split, TaskError, load, write_synthetic_data

FAST = dict(preset="tiny", epochs=1, batch_size=16, lr=3e-3, precision="fp32", verbose=False)

@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_synthetic_data(tmp_path_factory.mktemp("data"), seed=0)

@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    "A tiny random network saved as a teacher (stands in for a pretrained one)."
    return FinDNA(FinDNAConfig.preset("tiny"), seed=0).save_pretrained(tmp_path_factory.mktemp("run") / "teacher",
                                                                       role="teacher")

@pytest.fixture(scope="module")
def run(root, tmp_path_factory):
    "One finished scratch run on the synthetic prom_core_all, with `predict` calls recorded."
    out = tmp_path_factory.mktemp("ft")
    calls, real = [], FT.predict
    mp = pytest.MonkeyPatch()
    mp.setattr(FT, "predict", lambda model, split, *a, **k: calls.append(split) or real(model, split, *a, **k))
    try: rec = finetune(task="prom_core_all", data_dir=str(root), epochs=2, out_dir=str(out),
                        **{k: v for k, v in FAST.items() if k != "epochs"})
    finally: mp.undo()
    return rec, out, calls

def test_metrics_are_sklearn_on_the_whole_split(run, root):
    rec, out, _ = run
    saved = np.load(out / "predictions.npz")
    for s in ("val", "test"):
        y, p = saved[f"{s}_labels"], saved[f"{s}_probs"]
        assert len(y) == rec["sizes"][s] == rec[s]["n"]
        pred = p.argmax(1)
        assert rec[s]["mcc"] == matthews_corrcoef(y, pred)
        assert rec[s]["accuracy"] == accuracy_score(y, pred)
        assert rec[s]["f1_macro"] == f1_score(y, pred, average="macro")
        assert rec[s]["auroc"] == pytest.approx(roc_auc_score(y, p[:, 1]), abs=1e-12)
    # the saved predictions are the best checkpoint's
    best = FinDNAClassifier.from_pretrained(out / "best")
    np.testing.assert_allclose(predict(best, load("prom_core_all", root).test, "fp32"), saved["test_probs"], atol=1e-5)

def test_test_is_predicted_once_and_last(run):
    rec, _, calls = run
    test_rows = rec["sizes"]["test"]
    assert rec["steps"]["per_epoch"] * 2 == rec["steps"]["total"]
    assert len(calls) == 2 + 1                                           # one val evaluation per epoch, then test
    assert [len(s) for s in calls] == [rec["sizes"]["val"]] * 2 + [test_rows]

def test_best_checkpoint_is_best_val(run):
    rec, out, _ = run
    evals = FT.read_metrics(out)
    assert rec["val"]["mcc"] == evals.mcc.max()
    # first of equal maxima: ties keep the earlier one
    assert rec["best"]["step"] == int(evals.step[evals.mcc.idxmax()])

def test_record_says_what_ran(run):
    rec, _, _ = run
    assert rec["init"]["kind"] == "scratch" and rec["init"]["preset"] == "tiny"
    assert rec["hyperparameters"]["source"] == dict(epochs="override", batch_size="override", lr="override",
                                                    weight_decay="reference", warmup_fraction="reference",
                                                    mlp_dropout="reference", layer_dropout="reference",
                                                    min_steps="override")      # epochs given: not extended
    assert rec["fingerprint"]["task"] == "prom_core_all" and rec["protocol"] == "official"
    assert rec["findna_version"] and rec["wall_time_s"] > 0
    assert FinetuneConfig(**rec["config"]).seed == 0                    # the record reproduces its configuration

def test_resume_returns_finished_record_without_training(run, monkeypatch):
    rec, out, _ = run
    monkeypatch.setattr(FT, "_fit", lambda *a, **k: pytest.fail("a finished run was trained again"))
    again = finetune(FinetuneConfig(**rec["config"]), threads=1, verbose=True)   # runtime fields may differ
    assert again == json.loads((out / "results.json").read_text())
    with pytest.raises(FinetuneError, match="lr: 0.003 there, 0.001 now"):
        finetune(FinetuneConfig(**{**rec["config"], "lr": 1e-3}))

def test_partial_run_restarts_cleanly(root, tmp_path):
    out = tmp_path / "partial"
    out.mkdir()
    (out / "run.json").write_text('{"kind": "finetune", "state": "running"}')   # a killed run: claimed, no results.json
    (out / "metrics.jsonl").write_text('{"step": 999, "split": "val"}\n')
    (out / "notes.txt").write_text("mine")
    rec = finetune(task="prom_core_all", data_dir=str(root), out_dir=str(out), **FAST)
    assert FT.read_metrics(out).step.tolist() == [rec["steps"]["per_epoch"]]
    assert (out / "notes.txt").read_text() == "mine"                     # only the run's own files are replaced

def test_bad_inputs(root, teacher_dir, tmp_path):
    with pytest.raises(TaskError, match="train_split='dev'"):               # a dev-only task
        finetune(task="H3", data_dir=str(root), out_dir=str(tmp_path / "a"), **FAST)
    with pytest.raises(FinetuneError, match="does not exist"):
        finetune(task="prom_core_all", data_dir=str(root), pretrained=str(tmp_path / "nowhere"),
                 out_dir=str(tmp_path / "b"), verbose=False)
    with pytest.raises(FinetuneError, match="pretrained with max_len=128.*layout='task'"):   # 500 nt > 128
        finetune(task="H3", train_split="dev", data_dir=str(root), pretrained=str(teacher_dir),
                 out_dir=str(tmp_path / "c"), verbose=False)
    clf = FinDNAClassifier(FinDNAConfig.preset("tiny"), n_classes=2, seed=0)
    clf.save_pretrained(tmp_path / "clf")
    with pytest.raises(FinetuneError, match="is a 2-class classifier"):
        finetune(task="human_ensembl_regulatory", data_dir=str(root), pretrained=str(tmp_path / "clf"),
                 out_dir=str(tmp_path / "d"), verbose=False)
    with pytest.raises(FinetuneError, match="takes at most 128"):
        finetune(task="H3", train_split="dev", data_dir=str(root), pretrained=str(tmp_path / "clf"),
                 out_dir=str(tmp_path / "e"), verbose=False)
    with pytest.raises(FinetuneError, match=r"unknown fine-tuning parameter\(s\) \['epoch'\]"):
        finetune(task="prom_core_all", epoch=3)
    with pytest.raises(FinetuneError, match="holds the teacher, but init_from='student'"):
        finetune(task="prom_core_all", data_dir=str(root), pretrained=str(teacher_dir), init_from="student",
                 verbose=False)
    import shutil
    shutil.copytree(teacher_dir, tmp_path / "edited")                   # weights of H = 64 under a config that says 32
    cfg = json.loads((tmp_path / "edited" / "config.json").read_text())
    (tmp_path / "edited" / "config.json").write_text(json.dumps({**cfg, "hidden_dim": 32}))
    with pytest.raises(FinetuneError, match="does not fit task prom_core_all"):
        finetune(task="prom_core_all", data_dir=str(root), pretrained=str(tmp_path / "edited"),
                 out_dir=str(tmp_path / "f"), verbose=False)
    assert not any((tmp_path / d / "results.json").exists() for d in "abcdef")

def test_pretrained_probe_and_task_layout(root, teacher_dir, tmp_path):
    teacher = FinDNA.from_pretrained(teacher_dir)
    rec = finetune(task="prom_core_all", data_dir=str(root), pretrained=str(teacher_dir.parent), mode="probe",
                   rc_tta=True, out_dir=str(tmp_path / "probe"), **{k: v for k, v in FAST.items() if k != "preset"})
    probe = FinDNAClassifier.from_pretrained(tmp_path / "probe" / "best")
    for k, v in teacher.state_dict().items():
        if k.startswith(("embedding", "backbone")): torch.testing.assert_close(probe.state_dict()[k], v)   # frozen
    assert rec["architecture"]["n_trainable"] == 36 * 2 + 2 and rec["init"]["role"] == "teacher"
    with pytest.warns(Warning, match="start random"):
        rec = finetune(task="H3", train_split="dev", data_dir=str(root), pretrained=str(teacher_dir), layout="task",
                       out_dir=str(tmp_path / "task"), **{k: v for k, v in FAST.items() if k != "preset"})
    assert (rec["architecture"]["config"]["n_layers"], rec["architecture"]["config"]["n_cls"]) == (9, 0)
    assert rec["protocol"] == "dev-trained" and any("not comparable" in n for n in rec["notes"])

def test_long_variable_length_task_in_pieces(root, tmp_path):
    rec = finetune(task="human_ensembl_regulatory", data_dir=str(root), max_tokens=900, patience=1, eval_every=2,
                   out_dir=str(tmp_path / "gb"), **{**FAST, "batch_size": 8})
    assert rec["architecture"]["config"]["max_len"] == 802 and rec["test"]["n"] == 24
    assert rec["steps"]["eval_every"] == 2 and len(FT.read_metrics(tmp_path / "gb")) <= 4
    assert rec["test"]["auroc"] is None or 0 <= rec["test"]["auroc"] <= 1    # one-vs-rest macro AUROC, 3 classes

def test_one_validation_is_named(root, tmp_path):
    "eval_every longer than the run validates once: early stopping cannot act, and the run says so."
    with pytest.warns(UserWarning, match="validated once"):
        rec = finetune(task="prom_core_all", data_dir=str(root), eval_every=10_000, patience=2,
                       out_dir=str(tmp_path / "once"), **FAST)
    assert len(FT.read_metrics(tmp_path / "once")) == 1 and any("validated once" in n for n in rec["notes"])
    rec = finetune(task="prom_core_all", data_dir=str(root), patience=2, out_dir=str(tmp_path / "epoch"),
                   **{**FAST, "epochs": 2})
    assert len(FT.read_metrics(tmp_path / "epoch")) == 2 and not any("validated once" in n for n in rec["notes"])

def test_rc_tta_is_strand_symmetric(root):
    data = load("human_ensembl_regulatory", root)
    model = FinDNAClassifier(FinDNAConfig.preset("tiny", max_len=802), 3, seed=1)
    s = data.test
    rc = Split(reverse_complement(s.idx, lengths=s.lengths), s.lengths, s.labels)
    both = predict(model, s, rc_tta=True, max_tokens=4000)
    np.testing.assert_allclose(both, predict(model, rc, rc_tta=True, max_tokens=4000), atol=1e-5)
    assert not np.allclose(predict(model, s), predict(model, rc), atol=1e-5)   # without averaging the strands differ

def test_kmer_floor(root):
    data = load("human_ensembl_regulatory", root)                         # variable lengths, 3 classes
    f = kmer_counts(data.train.idx, 3)
    np.testing.assert_allclose(np.asarray(f.sum(1)).ravel(), 1.0, rtol=1e-5)
    rec = kmer_baseline(data, Cs=(0.1, 1.0), scalings=("maxabs",))
    assert rec["init"] == "kmer" and rec["test"]["n"] == len(data.test) and rec["features"]["n_features"] == 5440
    assert rec["val"]["accuracy"] == max(g["val"] for g in rec["grid"])

def test_grid_records_failures_and_unavailable(root, teacher_dir, tmp_path):
    cells, unavailable = evaluate_grid(tasks="H3,tf1", data_dir=str(root), seeds="0", inits="pretrained",
                                       pretrained=str(teacher_dir.parent), on_error="record",
                                       out_dir=str(tmp_path / "g"), epochs=1, verbose=False)
    assert list(unavailable.task) == ["tf1"]
    failed = cells[cells.init == "pretrained"].iloc[0]
    assert failed.status.startswith("failed: FinetuneError") and "layout='task'" in failed.status
    assert cells[cells.init == "kmer"].status.tolist() == ["ok"]
    text = write_evaluation_report(cells, unavailable, tmp_path / "g").read_text()
    assert "## Failed cells" in text and "## Unavailable tasks" in text and "tf1" in text
    prints = json.loads((tmp_path / "g" / "fingerprints.json").read_text())   # the data of every successful cell
    assert list(prints) == ["H3/kmer/seed0"] and prints["H3/kmer/seed0"]["task"] == "H3"
    assert prints["H3/kmer/seed0"]["splits"]["test"]["rows"] == len(load("H3", root, train_split="dev").test)
    _, skipped = evaluate_grid(tasks="H3", data_dir=str(root), seeds="0", inits="scratch", dev_only="skip", kmer=False,
                               out_dir=str(tmp_path / "h"), verbose=False)
    assert skipped.status.tolist() == ["dev-only"]

def test_grid_resumes_after_the_data_root_moved(root, tmp_path):
    "The data root is a location: a grid resumed on a copy of it reads its cells back; changed data are refused."
    import shutil
    kw = dict(tasks="prom_core_all", seeds="0", inits="scratch", scratch_preset="tiny", epochs=1, batch_size=16,
              lr=3e-3, precision="fp32", out_dir=str(tmp_path / "g"), on_error="raise", verbose=False)
    cells, _ = evaluate_grid(data_dir=str(root), **kw)
    # scratch and floor
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "g/cells").glob("*/*/seed0/results.json")}
    moved = Path(shutil.copytree(root, tmp_path / "moved"))
    run_json = tmp_path / "g/run.json"
    for state in ("finished", "running"):                                   # a finished grid, then an interrupted one
        run_json.write_text(json.dumps({**json.loads(run_json.read_text()), "state": state}))
        again, _ = evaluate_grid(data_dir=str(moved), **kw)
        assert again.test.tolist() == cells.test.tolist()
        assert {p: p.stat().st_mtime_ns for p in stamps} == stamps and len(stamps) == 2      # nothing recomputed
    assert json.loads(run_json.read_text())["settings"]["data_dir"] == str(moved)
    test_csv = moved / "GUE/prom/prom_core_all/test.csv"
    test_csv.write_text("\n".join(test_csv.read_text().splitlines()[:-1]) + "\n")   # one test row fewer: other data
    with pytest.raises(FinetuneError, match="trained on other data.*data fingerprints differ"):
        evaluate_grid(data_dir=str(moved), **kw)

def test_table_and_verdicts():
    rows = [dict(task="tf1", benchmark="GUE", init=i, seed=s, metric="mcc", status="ok", test=v, protocol="official",
                 n_train=10)
            for i, vals in (("pretrained", (.50, .52)), ("scratch", (.51, .49)), ("kmer", (.60, .61)))
            for s, v in enumerate(vals)]
    cells = pd.DataFrame(rows)
    agg = aggregate_results(cells)
    assert agg.loc[("tf1", "kmer"), "mean"] == pytest.approx(0.605)
    table = results_table(cells)
    assert table.loc["tf1", "kmer" if "kmer" in table else "k-mer floor"] == "60.5 ± 0.7 (n=2)"
    assert table.loc["tf1", "pretrained beats floor?"] == "no (worse)"
    assert table.loc["tf1", "pretrained beats scratch?"] == "no clear difference"
    assert table.loc["tf1", "published DNABERT-2"] == 76.06
    lines = EV.verdicts(table)
    assert any(l.startswith("**pretrained does not clearly beat the k-mer floor** on: tf1") for l in lines)
    one = results_table(cells[cells.seed == 0])
    assert one.loc["tf1", "pretrained beats floor?"] == "n/a (1 seed)"

def test_shared_prom_core_all(tmp_path):
    data_dir = shared_data("GUE", "prom", "prom_core_all").parents[2]
    data = load("prom_core_all", data_dir, max_train_samples=2000, seed=0)
    floor = kmer_baseline(data, Cs=(1e-2, 1e-1), scalings=("maxabs",))
    assert floor["sizes"] == dict(train=2000, val=len(data.val), test=5920)
    assert 0.2 < floor["test"]["mcc"] < 0.9                                  # a real signal, not a perfect one
    rec = finetune(task="prom_core_all", data_dir=str(data_dir), max_train_samples=200, out_dir=str(tmp_path / "real"),
                   **FAST)
    assert rec["sizes"]["test"] == 5920 and rec["test"]["n"] == 5920


def test_first_finetuning_step_learns(tmp_path, monkeypatch):
    "The warm-up starts above 0: the first optimiser step of a fine-tuning run has a learning rate > 0."
    real, lrs = FT.adamw, []
    def recording(*a, **k):
        opt = real(*a, **k)
        opt.register_step_pre_hook(lambda o, args, kwargs: lrs.append(o.param_groups[0]["lr"]))
        return opt
    monkeypatch.setattr(FT, "adamw", recording)
    root = write_synthetic_data(tmp_path / "data")
    FT.finetune(task="prom_core_all", data_dir=str(root), preset="tiny", epochs=1, batch_size=16, lr=3e-3,
                warmup_fraction=0.5, precision="fp32", verbose=False, out_dir=str(tmp_path / "ft"))
    assert len(lrs) > 2 and lrs[0] > 0 and max(lrs) == pytest.approx(3e-3, rel=0.2)


def test_layout_task_records_and_warns_about_dropped_layers(tmp_path):
    ("layout='task' at 70 nt keeps 7 of a 1 kb checkpoint's 10 layers per block: a warning, and the counts in the "
     "record.")
    root = write_synthetic_data(tmp_path / "data")
    FinDNA(FinDNAConfig.preset("small"), seed=0).save_pretrained(tmp_path / "pre" / "teacher", role="teacher")
    with pytest.warns(Warning, match="pretrained layers are dropped"):
        rec = finetune(task="prom_core_all", data_dir=str(root), pretrained=str(tmp_path / "pre"), layout="task",
                       epochs=1, batch_size=32, precision="fp32", verbose=False, out_dir=str(tmp_path / "ft"))
    assert rec["init"]["layers_pretrained"] == 14 < rec["init"]["layers_in_checkpoint"] == 20   # 2 x 7 of 2 x 10
    assert any("6 of 20 pretrained layers are dropped" in n for n in rec["notes"])

def test_finetune_takes_a_user_task_spec(tmp_path):
    ("finetune(task=user_task(folder, metric=...)) runs on your folder and records it; a spec the config cannot carry "
     "is refused.")
    from findna.tasks import TASKS, user_task
    from dataclasses import replace
    rng = np.random.default_rng(0)
    for split, n in (("train", 64), ("dev", 24), ("test", 24)):
        y = np.arange(n) % 2
        seqs = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(n)]
        pd.DataFrame(dict(sequence=[s[:10] + ("TATAAA" if l else "GCGCGC") + s[16:] for s, l in zip(seqs, y)],
                          label=y)).to_csv(tmp_path / f"{split}.csv", index=False)
    spec = user_task(tmp_path, metric="mcc")
    cfg = FinetuneConfig(task=spec)
    assert (cfg.task, cfg.metric, cfg.n_classes) == (str(tmp_path.resolve()), "mcc", 2)
    rec = finetune(task=spec, out_dir=str(tmp_path / "ft"), **FAST)
    assert rec["benchmark"] == "user" and rec["metric"] == "mcc" and rec["config"]["task"] == str(tmp_path.resolve())
    assert FinetuneConfig(task=TASKS["tf1"]).task == "tf1"
    with pytest.raises(FinetuneError, match="length"): FinetuneConfig(task=replace(spec, length=500))
    with pytest.raises(FinetuneError, match="contradicts"): FinetuneConfig(task=spec, metric="accuracy")
    with pytest.raises(FinetuneError, match="not the registry's"):
        FinetuneConfig(task=replace(TASKS["tf1"], n_classes=3))

def test_a_committed_grid_is_read_back_without_training(tmp_path, monkeypatch):
    ("A grid finished by an older version (unset written as '' and 0) is read back whole: no cell trained, no floor "
     "computed.")
    committed = Path(__file__).parent.parent / "results" / "downstream" / "labels500" / "scratch"
    if not (committed / "grid.json").is_file(): pytest.skip(f"needs the committed grid {committed}")
    config = json.loads((committed / "grid.json").read_text())["config"]
    if not Path(config["data_dir"]).is_dir(): pytest.skip(f"needs the grid's data root {config['data_dir']}")
    import shutil
    copy = Path(shutil.copytree(committed, tmp_path / "grid"))                 # the committed files stay untouched
    monkeypatch.setattr(FT, "_train", lambda *a, **k: pytest.fail("a finished cell was trained again"))
    monkeypatch.setattr(EV, "kmer_baseline", lambda *a, **k: pytest.fail("a finished floor was computed again"))
    cells, unavailable = evaluate_grid({**config, "out_dir": str(copy), "verbose": False})
    # 13 tasks × 3 seeds, + floors
    assert len(unavailable) == 0 and (cells.status == "ok").all() and len(cells) == 2 * 39
    assert (EvalConfig.from_dict(config).metric is None
            and json.loads((copy / "run.json").read_text())["state"] == "finished")

def test_cli_names_the_network_on_its_first_and_last_line(root, teacher_dir, tmp_path, capsys):
    "`findna-finetune`: the first line and the last say which network the run started from (scratch: preset and size)."
    fast = ["--task", "prom_core_all", "--data-dir", str(root), "--epochs", "1", "--batch-size", "32",
            "--precision", "fp32", "--no-verbose"]
    FT.finetune_cli(fast + ["--preset", "tiny", "--out-dir", str(tmp_path / "s")])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"findna-finetune: prom_core_all, from scratch (preset tiny: random weights), "
                        f"full fine-tuning, 37,954 parameters; run folder: {tmp_path / 's'}")
    assert "; network: from scratch (preset tiny: random weights): random weights: preset 'tiny', " \
           "layout='pretrained', 37,954 parameters); run folder: " in lines[-1]
    FT.finetune_cli(fast + ["--pretrained", str(teacher_dir), "--out-dir", str(tmp_path / "p")])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"findna-finetune: prom_core_all, from {teacher_dir} (its teacher), full fine-tuning; "
                        f"run folder: {tmp_path / 'p'}")
    rec = json.loads((tmp_path / "p" / "results.json").read_text())
    assert f"; network: from {teacher_dir} (its teacher): {rec['init']['description']}, " \
           f"{rec['architecture']['n_params']:,} parameters); run folder: " in lines[-1]
    assert [l[6:] for l in lines if l.startswith("note: ")] == rec["notes"]

def test_activation_checkpointing_gives_the_same_fine_tuned_network(root, tmp_path):
    "grad_checkpoint (long sequences: memory for compute) changes nothing a run computes, and is not a result setting."
    a = finetune(task="prom_core_all", data_dir=str(root), out_dir=str(tmp_path / "a"), **FAST)
    b = finetune(task="prom_core_all", data_dir=str(root), out_dir=str(tmp_path / "b"), grad_checkpoint=True, **FAST)
    assert a["test"] == b["test"] and a["val"] == b["val"]
    wa, wb = (FinDNAClassifier.from_pretrained(tmp_path / x / "best").state_dict() for x in "ab")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (a["config"]["grad_checkpoint"], b["config"]["grad_checkpoint"]) == (False, True)   # recorded, as asked
    assert a["fingerprint"] == b["fingerprint"]
