"""Embedding analyses (findna.embeddings, nbs/12_embeddings): probe metrics against scikit-learn computed
independently, the random-init baseline in every table, clear errors on bad inputs, window properties of a
soft-masked genome, a real trainer run folder, the shared data, and the run notebook end to end under papermill."""
import json
import numpy as np, pandas as pd, pytest, torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, silhouette_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from conftest import DEMO_GENOME, ROOT, shared_data
from findna.embeddings import (PROBE_CS, RANDOM_SEED_OFFSET, EmbeddingError, EmbeddingsConfig, _confusions,
                               _metric_from_confusion,
                               compare_to_random, embed_models, heldout_intervals, load_models, load_task_data, probe,
                               probe_table, population_genome, population_windows, task_features, umap_2d,
                               window_properties)
from findna.genome import Genome
from findna.model import FinDNA, FinDNAConfig
from findna.tasks import write_synthetic_data

@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    return FinDNA(FinDNAConfig.preset("tiny"), seed=5).save_pretrained(tmp_path_factory.mktemp("ckpt") / "teacher",
                                                                       role="teacher")

@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    return write_synthetic_data(tmp_path_factory.mktemp("data"))

def sklearn_reference(Xtr, ytr, Xva, yva, Xte, yte, metric_fn):
    ("The probes recomputed with scikit-learn alone: kNN (5, cosine), standardised logistic regression with C chosen"
     " on val.")
    knn = KNeighborsClassifier(n_neighbors=5, metric="cosine").fit(Xtr, ytr).predict(Xte)
    sc = StandardScaler().fit(Xtr)
    val_scores = [metric_fn(yva, LogisticRegression(C=C, max_iter=2000, random_state=0).fit(sc.transform(Xtr), ytr)
                            .predict(sc.transform(Xva))) for C in PROBE_CS]
    C = PROBE_CS[int(np.argmax(val_scores))]                     # first maximum = smallest C among ties
    lin = LogisticRegression(C=C, max_iter=2000, random_state=0).fit(sc.transform(Xtr), ytr).predict(sc.transform(Xte))
    return knn, lin, C

@pytest.mark.parametrize("metric,n_classes", [("mcc", 2), ("accuracy", 2), ("f1_macro", 3)])
def test_probe_metrics_equal_sklearn(metric, n_classes):
    fn = dict(mcc=matthews_corrcoef, accuracy=accuracy_score,
              f1_macro=lambda a, b: f1_score(a, b, average="macro", zero_division=0))[metric]
    rng = np.random.default_rng(0)
    def draw(n):                                                 # overlapping classes: scores well inside (0, 1)
        y = np.arange(n) % n_classes
        return rng.normal(size=(n, 12)) + 0.8 * np.eye(12)[y], y
    (Xtr, ytr), (Xva, yva), (Xte, yte) = draw(150), draw(60), draw(90)
    got = probe(Xtr, ytr, Xte, yte, metric, Xva, yva)
    knn, lin, C = sklearn_reference(Xtr, ytr, Xva, yva, Xte, yte, fn)
    assert got["knn"] == pytest.approx(fn(yte, knn), abs=1e-12)
    assert got["knn_accuracy"] == pytest.approx(accuracy_score(yte, knn), abs=1e-12)
    assert got["C"] == C
    assert got["linear"] == pytest.approx(fn(yte, lin), abs=1e-12)
    assert got["linear_accuracy"] == pytest.approx(accuracy_score(yte, lin), abs=1e-12)
    assert got["silhouette"] == pytest.approx(silhouette_score(Xte, yte, metric="cosine"), abs=1e-12)
    assert 0.2 < got["linear_accuracy"] < 1                      # a real probe, not a degenerate one

def test_bootstrap_metrics_equal_sklearn():
    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 3, 80), rng.integers(0, 3, 80)
    p[:30] = y[:30]
    rows = rng.integers(0, 80, (6, 80))
    for name, fn in dict(accuracy=accuracy_score, mcc=matthews_corrcoef,
                         f1_macro=lambda a, b: f1_score(a, b, average="macro", zero_division=0)).items():
        np.testing.assert_allclose(_metric_from_confusion(_confusions(y, p, rows, 3), name),
                                   [fn(y[r], p[r]) for r in rows], atol=1e-12)

def test_table_always_has_the_random_baseline(teacher_dir, synthetic_root):
    models = load_models(teacher_dir, seed=0)
    assert list(models) == ["teacher", "random"]
    tf = task_features(models, load_task_data("prom_core_all", synthetic_root), n_per_split=24, precision="fp32")
    table, preds = probe_table(tf)
    assert sorted(map(tuple, table[["model", "pooling"]].values)) == [("random", "cls"), ("random", "mean"),
                                                                      ("teacher", "cls"), ("teacher", "mean")]
    comp = compare_to_random(tf, preds, n_boot=50)
    assert set(comp.model) == {"teacher"} and len(comp) == 4 and (comp.random.notna()).all()
    tf.features.pop("random")
    with pytest.raises(EmbeddingError, match="random-init baseline is missing"): probe_table(tf)

def test_bad_inputs_are_clear_errors(teacher_dir, tmp_path):
    models = load_models(teacher_dir)
    with pytest.raises(EmbeddingError, match="no sequences to embed in the input: the list is empty"):
        embed_models(models, [])
    with pytest.raises(EmbeddingError, match="does not exist; pass a pretraining run folder"):
        load_models(tmp_path / "no-such-run")
    with pytest.raises(EmbeddingError, match=r"needs at least 16 sequences, got 15; embed more"):
        umap_2d(np.random.default_rng(0).normal(size=(15, 8)), n_neighbors=15)
    with pytest.raises(EmbeddingError, match="unknown parameter"): EmbeddingsConfig.from_dict(dict(n_per_splits=3))

def test_window_properties_of_a_soft_masked_genome(tmp_path):
    rng = np.random.default_rng(1)
    letters = "".join(rng.choice(list("ACGTacgtNn"), size=3000, p=[.2, .15, .15, .2, .07, .05, .05, .07, .03, .03]))
    (tmp_path / "sm.fa").write_text(">chr1\n" + "\n".join(letters[i:i + 60] for i in range(0, 3000, 60))
                                    + "\n>chr2\n" + "ACGT" * 100 + "\n")
    genome = Genome(tmp_path / "sm.fa")
    iv, _ = heldout_intervals(genome, "chr1")
    seqs, where = population_windows(genome, iv, n=40, length=200, seed=0)
    assert [s for s in seqs] == [letters[a:b] for a, b in zip(where.start, where.end)]     # case kept, right place
    props = window_properties(seqs)
    for s, (_, r) in zip(seqs, props.iterrows()):                                           # independent counts
        real = sum(s.upper().count(b) for b in "ACGT")
        assert r.gc == pytest.approx((s.upper().count("G") + s.upper().count("C")) / real)
        assert r.softmask == pytest.approx(sum(c.islower() for c in s) / len(s))
        assert r.has_n == ("N" in s.upper())
    assert 0.1 < props.softmask.mean() < 0.4

def test_load_models_from_a_trainer_run_folder(tmp_path):
    from findna.trainer import PretrainConfig, load_checkpoint, pretrain
    run = pretrain(PretrainConfig(fasta=str(DEMO_GENOME), preset="tiny", steps=2, batch_size=4, val_chroms="chr20_b",
                                  eval_batches=1, threads=1, precision="fp32", out=str(tmp_path / "run")))
    models = load_models(run, seed=3, fit_len=300)
    assert list(models) == ["teacher", "student", "random"]
    state = load_checkpoint(run)
    for name in ("student", "teacher"):
        for k, v in state[name].items(): torch.testing.assert_close(models[name].state_dict()[k], v, rtol=0, atol=0)
    assert models["student"].config.max_len == 300 and models["random"].config == models["student"].config
    start = FinDNA(models["teacher"].config, seed=0)  # the run's own initial weights (trainer: manual_seed(0))
    # the baseline is an independent draw
    assert not torch.equal(models["random"].embedding.weight, start.embedding.weight)
    assert torch.equal(models["random"].embedding.weight,
                       FinDNA(models["teacher"].config, seed=RANDOM_SEED_OFFSET + 3).embedding.weight)
    genome, iv, how = population_genome(run)                    # the run's genome and held-out contig
    assert iv.chrom.tolist() == ["chr20_b"] and "the run's split" in how

def test_dev_only_task_on_shared_data():
    root = shared_data("GUE", "EMP", "H3").parents[2]
    data = load_task_data("H3", root)
    assert data.protocol == "dev-trained"
    models = {"random": FinDNA(FinDNAConfig.preset("tiny", max_len=data.length), seed=0)}
    tf = task_features(models, data, poolings=("mean",), n_per_split=40, precision="fp32")
    table, _ = probe_table(tf)
    assert table.model.tolist() == ["random"] and table.n_test.iloc[0] == 40

def test_run_notebook_defaults(tmp_path):
    "The defaults (a smoke test), with only the output folder and one torch thread given."
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "out"
    papermill.execute_notebook(str(ROOT / "nbs" / "12_embeddings.ipynb"), str(tmp_path / "run.ipynb"),
                               parameters=dict(out_dir=str(out), threads=1), kernel_name="python3", cwd=str(ROOT),
                               progress_bar=False, log_output=False)
    for f in ("umap_prom_core_all_mean.png", "umap_prom_core_all_cls.png", "umap_H3_mean.png", "umap_H3_cls.png",
              "population_mean.png", "population_cls.png", "probes.md", "reading.md", "summary.json"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    probes = pd.read_csv(out / "probes.csv")
    assert set(probes.model) == {"teacher", "random"} and set(probes.task) == {"prom_core_all", "H3"}
    assert (probes.groupby(["task", "pooling"]).model.apply(set) == {"teacher", "random"}).all()
    reading = (out / "reading.md").read_text()
    assert "Smoke test" in reading and f"{probes.knn.iloc[0]:.3f}" in reading
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["n_per_split"] == 30
    assert summary["torch_threads"] == 1                        # UMAP (numba) must not change torch's thread count

def test_run_notebook_parameters_are_the_config_fields():
    papermill = pytest.importorskip("papermill")
    from dataclasses import fields
    assert (list(papermill.inspect_notebook(str(ROOT / "nbs" / "12_embeddings.ipynb")))
            == [f.name for f in fields(EmbeddingsConfig)])

def test_run_notebook_rejects_unknown_parameter(tmp_path):
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError, match=r"unknown parameter\(s\) \['n_window'\]"):
        papermill.execute_notebook(str(ROOT / "nbs" / "12_embeddings.ipynb"), str(tmp_path / "run.ipynb"),
                                   parameters=dict(n_window=5, out_dir=str(tmp_path / "out")), kernel_name="python3",
                                   cwd=str(ROOT), progress_bar=False, log_output=False)
    assert not (tmp_path / "out").exists()


def test_findna_embed_command_line(tmp_path):
    import subprocess, sys
    from pathlib import Path
    script = Path(sys.executable).parent / "findna-embed"
    assert script.exists(), f"{script} missing: install findna (make install) so the console script exists"
    (tmp_path / "q.fa").write_text(">a desc\nACGTACGTAC\nGGT\n>b\nGGGCCCAT\n")
    done = subprocess.run([str(script), "--fasta", str(tmp_path / "q.fa"), "--out", str(tmp_path / "q.npy"),
                           "--threads", "1"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    x = np.load(tmp_path / "q.npy")
    assert x.shape[0] == 2 and np.isfinite(x).all() and (tmp_path / "q.ids.txt").read_text() == "a\nb\n"
    again = subprocess.run([str(script), "--fasta", str(tmp_path / "q.fa"), "--out", str(tmp_path / "q.npy")],
                           capture_output=True, text=True)
    assert (again.returncode == 2 and again.stderr.startswith("findna-embed: error: ")
            and "never overwrites" in again.stderr)

def test_two_named_networks_and_their_paired_difference(teacher_dir, synthetic_root, tmp_path):
    "checkpoint='findna=A,mlm=B': both networks beside random, and findna − mlm with a paired bootstrap interval."
    from findna.embeddings import run_embeddings
    twin = FinDNA(FinDNAConfig.preset("tiny"), seed=6).save_pretrained(tmp_path / "twin", role="teacher")
    res = run_embeddings(EmbeddingsConfig(checkpoint=f"findna={teacher_dir},mlm={twin}", tasks="prom_core_all",
                                          data_dir=str(synthetic_root), n_per_split=24, n_windows=0, n_boot=50,
                                          poolings="mean", precision="fp32", out_dir=str(tmp_path / "out")))
    assert set(res.probes.model) == {"findna", "mlm", "random"} and set(res.comparisons.model) == {"findna", "mlm"}
    pairs = pd.read_csv(tmp_path / "out" / "pairs.csv")
    assert (pairs.model == "findna").all() and (pairs.baseline == "mlm").all() and len(pairs) == 2     # knn, linear
    row = pairs[pairs.probe == "linear"].iloc[0]
    assert row["diff"] == pytest.approx(res.probes.set_index("model").linear["findna"]
                                        - res.probes.set_index("model").linear["mlm"])
    assert "**findna − mlm** over 2 comparisons" in res.reading

def test_findna_embed_refuses_what_it_cannot_do_honestly(teacher_dir, tmp_path):
    ("An empty FASTA, an unfinished run (unless --unfinished) and a record longer than the network was trained on are"
     " named.")
    from findna.embeddings import EmbedConfig, embed_fasta
    from findna.model import FinDNAWarning
    from findna.runs import write_json
    (tmp_path / "empty.fa").write_text("")
    from findna.config import UserError
    with pytest.raises(UserError, match="nothing to embed: the FASTA .* holds no record"):
        embed_fasta(EmbedConfig(fasta=str(tmp_path / "empty.fa"), out=str(tmp_path / "e.npy"), model=str(teacher_dir)))
    run = tmp_path / "run"; run.mkdir()
    FinDNA(FinDNAConfig.preset("tiny"), seed=1).save_pretrained(run / "teacher", role="teacher")
    write_json(run / "run.json", dict(kind="pretrain", state="running"))
    (tmp_path / "q.fa").write_text(">a\n" + "ACGT" * 50 + "\n")                  # 200 nt > the tiny network's 128
    with pytest.raises(EmbeddingError, match="unfinished pretrain run.*--unfinished"):
        embed_fasta(EmbedConfig(fasta=str(tmp_path / "q.fa"), out=str(tmp_path / "u.npy"), model=str(run)))
    with pytest.warns(FinDNAWarning, match="longest record \\(200 nt\\) is longer than the 128 nt"):
        out = embed_fasta(EmbedConfig(fasta=str(tmp_path / "q.fa"), out=str(tmp_path / "u.npy"), model=str(run),
                                      unfinished=True))
    assert np.load(out).shape == (1, 36)
