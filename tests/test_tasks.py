"""Task registry and loaders beyond the notebook: every format on synthetic data written at test time, every bad
input, the validation-never-test property, dedup, stratification, fingerprints, and real GUE / GB loads."""
import gzip, json, sys, types
from dataclasses import asdict
from pathlib import Path
import numpy as np, pandas as pd, pytest
from conftest import shared_data
from findna.alphabet import AlphabetError
from findna import tasks as T
from findna.tasks import (TASKS, ALIASES, SUITES, TaskError, TaskSpec, ReferenceSettings, load, suite, get_task,
                          user_task, write_synthetic_data, stratified_split, stratified_subsample,
                          task_availability, availability, tasks_table, data_root)

@pytest.fixture(scope="module")
def root(tmp_path_factory):
    "A synthetic data root in every registry layout (read-only for the tests that share it)."
    return write_synthetic_data(tmp_path_factory.mktemp("data"), seed=0)

@pytest.fixture
def own_root(tmp_path):
    "A private synthetic data root a test may modify."
    return write_synthetic_data(tmp_path / "data", seed=0)

def write_csv(path, seqs, labels, header="sequence,label"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "".join(f"{s},{y}\n" for s, y in zip(seqs, labels)))

def random_dna(n, length, seed):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), size=length)) for _ in range(n)]

# ---------------------------------------------------------------- registry and suites
def test_registry_counts_metrics_classes_lengths():
    by = lambda b: [t for t in TASKS.values() if t.benchmark == b]
    assert (len(by("GB")), len(by("GUE")), len(by("MTcDNA"))) == (9, 28, 4)
    assert {t.metric for t in by("GB")} == {"accuracy"} and {t.metric for t in by("MTcDNA")} == {"accuracy"}
    assert {t.name for t in by("GUE") if t.metric != "mcc"} == {"covid"} and TASKS["covid"].metric == "f1_macro"
    assert [TASKS[f"mtcdna_{k}"].length for k in ("1k", "4k", "8k", "16k")] == [1024, 4096, 8192, 16384]
    expected = dict(human_nontata_promoters=(2, 251), human_enhancers_cohn=(2, 500), demo_human_or_worm=(2, 200),
                    dummy_mouse_enhancers_ensembl=(2, 4776), demo_coding_vs_intergenomic_seqs=(2, 200),
                    human_enhancers_ensembl=(2, 573), human_ensembl_regulatory=(3, 802), human_ocr_ensembl=(2, 593),
                    prom_core_all=(2, 70), prom_300_tata=(2, 300), tf0=(2, 101), splice=(3, 400), covid=(9, 999),
                    H4ac=(2, 500))
    assert {n: (TASKS[n].n_classes, TASKS[n].length) for n in expected} == expected
    assert all(t.length and t.n_classes >= 2 for t in TASKS.values())

def test_gue_folders_and_aliases():
    assert TASKS["tf3"].folder == "GUE/tf/3" and TASKS["mouse0"].folder == "GUE/mouse/0"
    assert TASKS["H3K79me3"].folder == "GUE/EMP/H3K79me3" and TASKS["splice"].folder == "GUE/splice/reconstructed"
    assert TASKS["covid"].folder == "GUE/virus/covid" and TASKS["prom_300_all"].folder == "GUE/prom/prom_300_all"
    assert all(a not in TASKS and ALIASES[a] in TASKS for a in ALIASES)          # one canonical name per task
    assert get_task("tf/0").name == "tf0" and get_task("human_tf_4").name == "tf4" and get_task("EMP/H4").name == "H4"

def test_reference_settings_transcribed():
    ("Spot checks against docs/task-settings.md §2, one per row kind (columns L, blocks, g, dropout, batch, lr,"
     " epochs, warm-up, wd).")
    R = ReferenceSettings
    assert TASKS["demo_coding_vs_intergenomic_seqs"].reference == R(200, 2, 38, .2, .1, 1024, 5e-4, 30, .3, .1)
    assert TASKS["human_ocr_ensembl"].reference == R(593, 2, 30, .3, .3, 256, 3e-4, 50, .3, .1)
    assert TASKS["H3K14ac"].reference == R(500, 4, 38, .1, .1, 32, 5e-4, 20, .3, .1)
    assert TASKS["H3K9ac"].reference == R(500, 4, 40, 0, 0, 32, 5e-4, 20, .3, .1)
    assert TASKS["splice"].reference == R(400, 4, 34, .1, .1, 64, 5e-5, 20, .1, .01)
    assert TASKS["prom_core_notata"].reference.batch_size == 512 and TASKS["prom_core_tata"].reference.mlp_dropout == .2
    assert (TASKS["prom_300_all"].reference.epochs, TASKS["prom_300_notata"].reference.track_size) == (20, 36)
    assert [TASKS[f"tf{i}"].reference.blocks for i in (1, 2, 3)] == [2, 4, 4]
    assert TASKS["mtcdna_16k"].reference == R(16384, 4, 20, .1, .1, 16, 1e-4, 50, .1, .01)
    assert all(TASKS[n].reference is None for n in ("tf0", "tf4", "mouse2", "drosophila_enhancers_stark"))
    assert all(t.reference.embed_dim == 308 and t.reference.hidden_dim == 512 for t in TASKS.values() if t.reference)

def test_published_context():
    assert TASKS["human_nontata_promoters"].published == {"HyenaDNA": 96.6, "CNN": 84.6}
    assert TASKS["mouse1"].published == {"DNABERT-2": 84.77, "NT-2500M-multi": 83.76}
    assert TASKS["prom_300_tata"].published == {"DNABERT-2": 71.59, "NT-2500M-multi": 79.43}
    assert TASKS["mtcdna_1k"].published == {} and TASKS["drosophila_enhancers_stark"].published == {}

def test_specs_round_trip_json():
    for t in TASKS.values():
        back = TaskSpec.from_dict(json.loads(json.dumps(asdict(t))))
        assert back == t and back.published == t.published

def test_suites():
    f20 = suite("findna20")
    assert len(f20) == len(set(f20)) == 20 and set(f20) <= set(TASKS)
    assert {t for t in f20 if TASKS[t].benchmark == "GB"} == set(suite("gb")) - {"drosophila_enhancers_stark"}
    assert {t for t in f20 if TASKS[t].benchmark == "GUE"} == {"H3", "H3K4me3", "prom_300_all", "prom_core_all",
                                                                 "splice", "tf1", "tf3", "covid"}
    assert set(suite("mtcdna")) <= set(f20)
    assert (len(suite("gue")), len(suite("gb")), len(suite("mtcdna"))) == (28, 9, 4)
    suite("gb").append("x"); assert len(suite("gb")) == 9                     # callers get copies

def test_tasks_table():
    df = tasks_table()
    assert (len(df) == 41 and df.loc["covid", "metric"] == "f1_macro"
            and df.loc["human_ocr_ensembl", "length"] == "≤593")

# ---------------------------------------------------------------- loading every format
def test_gue_csv_official(root):
    d = load("prom_core_all", root)
    csv = {s: pd.read_csv(root / f"GUE/prom/prom_core_all/{s}.csv") for s in ("train", "dev", "test")}
    assert d.protocol == "official" and d.classes == ["0", "1"] and d.length == 70
    assert d.train.sequences() == csv["train"].sequence.tolist() and list(d.train.labels) == csv["train"].label.tolist()
    assert d.test.sequences() == csv["test"].sequence.tolist() and list(d.test.labels) == csv["test"].label.tolist()
    dev_kept = [s for s in csv["dev"].sequence if s not in set(csv["train"].sequence) | set(csv["test"].sequence)]
    assert d.val.sequences() == dev_kept                                          # val = dev minus duplicates
    assert d.train.idx.dtype == np.int8 and d.train.lengths.dtype == np.int64 and d.train.labels.dtype == np.int64

def test_gb_folders_variable_length(root):
    d = load("human_ensembl_regulatory", root)
    folder = root / "genomic_benchmarks/human_ensembl_regulatory/test"
    expected = {(p.read_text(), ["enhancer", "ocr", "promoter"].index(p.parent.name)) for p in folder.glob("*/*.txt")}
    assert set(zip(d.test.sequences(), d.test.labels.tolist())) == expected       # class names -> sorted labels
    assert d.classes == ["enhancer", "ocr", "promoter"] and d.length == 802
    assert d.train.lengths.min() < d.train.lengths.max() <= 802                  # variable, padded, none dropped
    assert len(d.train) + len(d.val) == 60 and len(d.test) == 24
    for s in (d.train, d.val, d.test):
        assert ((s.idx == -1).sum(1) == s.idx.shape[1] - s.lengths).all()        # -1 exactly past each row's end
        assert (s.idx[np.arange(s.idx.shape[1]) < s.lengths[:, None]] >= 0).all()

def test_mtcdna_recipe(root):
    ds = {L: load(f"mtcdna_{L}", root) for L in ("1k", "8k", "16k")}
    kept, total = 0, 0
    for path in sorted((root / "mtcdna").iterdir()):
        with (gzip.open(path, "rt") if path.suffix == ".gz" else open(path)) as f:
            recs = "".join(f.read()).split(">")[1:]
        lens = [len("".join(r.split("\n")[1:])) for r in recs]
        kept, total = kept + sum(n > 5000 for n in lens), total + len(lens)
    d = ds["16k"]
    assert len(d.train) + len(d.val) + len(d.test) == kept and 0 < kept < total
    assert abs(len(d.train) - 0.6 * kept) <= 2 and abs(len(d.test) - 0.2 * kept) <= 2
    assert d.protocol == "recipe-split" and d.classes == ["turtle", "mouse"]
    assert (ds["1k"].train.lengths == 1024).all() and ds["1k"].spec.fixed_length        # all truncated at 1k
    assert d.train.lengths.min() > 5000 and (d.train.lengths < 16384).any()            # padded, with -1
    assert ((d.train.idx == -1).sum(1) == 16384 - d.train.lengths).all()
    for split in ("train", "val", "test"):                                             # one split for every L
        a, b = getattr(ds["1k"], split).sequences(), getattr(ds["16k"], split).sequences()
        assert a == [s[:1024] for s in b]
    all_seqs = [s for sp in (d.train, d.val, d.test) for s in sp.sequences()]
    assert len(set(all_seqs)) == len(all_seqs)                                         # disjoint splits
    assert load("mtcdna_16k", root, seed=1).test.digest() != d.test.digest()           # the seed moves the split

def test_user_csv(tmp_path):
    seqs = random_dna(50, 40, seed=1)
    write_csv(tmp_path / "u/train.csv", seqs[:30], [i % 3 for i in range(30)])
    write_csv(tmp_path / "u/dev.csv", seqs[30:40], [i % 3 for i in range(10)])
    write_csv(tmp_path / "u/test.csv", seqs[40:] + ["ACG"], [i % 3 for i in range(11)])
    spec = user_task(tmp_path / "u", name="mine", metric="mcc")
    assert (spec.name, spec.n_classes, spec.layout, spec.metric) == ("mine", 3, "csv", "mcc")
    d = load(spec)
    assert d.protocol == "user" and d.length == 40 and d.test.sequences()[-1] == "ACG"   # default width: the longest
    assert d.val.sequences() == seqs[30:40] and d.train.sequences() == seqs[:30]
    assert load(spec, length=64).train.idx.shape == (30, 64)

def test_user_fasta_per_class(tmp_path):
    seqs = random_dna(24, 30, seed=2)
    for split, part in (("train", seqs[:16]), ("test", seqs[16:])):
        (tmp_path / "f" / split).mkdir(parents=True)
        half = len(part) // 2
        (tmp_path / f"f/{split}/neg.fa").write_text("".join(f">n{i}\n{s[:15]}\n{s[15:]}\n"
                                                            for i, s in enumerate(part[:half])))
        with gzip.open(tmp_path / f"f/{split}/pos.fasta.gz", "wt") as f:
            f.write("".join(f">p{i}\n{s}\n" for i, s in enumerate(part[half:])))
    spec = user_task(tmp_path / "f")
    assert (spec.layout, spec.n_classes, spec.class_names) == ("fasta_per_class", 2, ("neg", "pos"))
    d = load(spec, val_fraction=0.25)
    assert d.classes == ["neg", "pos"] and d.test.sequences() == seqs[16:] and list(d.test.labels) == [0] * 4 + [1] * 4
    assert sorted(d.train.sequences() + d.val.sequences()) == sorted(seqs[:16])

def test_user_task_bad_layouts(tmp_path):
    (tmp_path / "none").mkdir()
    with pytest.raises(TaskError, match=r"found neither train.csv/dev.csv nor train/<class>.fa"):
        user_task(tmp_path / "none")
    write_csv(tmp_path / "u/train.csv", ["ACGT"], [0], header="seq,y")
    with pytest.raises(TaskError, match="no `label` column"): user_task(tmp_path / "u")
    write_csv(tmp_path / "v/train.csv", ["ACGT", "AC"], [0, 1])
    with pytest.raises(TaskError, match=r"no data for task v.*found: \['train'\]"): load(user_task(tmp_path / "v"))

def test_data_root_from_environment(root, monkeypatch):
    monkeypatch.setenv("FINDNA_DATA", str(root))
    assert data_root() == root and len(load("prom_core_all").train) == 120

# ---------------------------------------------------------------- validation is never test
@pytest.mark.parametrize("task,kw", [("prom_core_all", {}), ("prom_core_all", dict(val="train", seed=3)),
                                     ("prom_core_all", dict(max_train_samples=17)), ("H3", dict(train_split="dev")),
                                     ("human_ensembl_regulatory", dict(val_fraction=0.3, seed=5)), ("mtcdna_4k", {})])
def test_validation_is_never_test(root, task, kw):
    d = load(task, root, **kw)
    # default options
    test_only = load(task, root, seed=kw.get("seed", 0), train_split=kw.get("train_split", "train")).test
    assert d.test.digest() == test_only.digest()                                # test: whole, untouched by any option
    assert not set(d.val.sequences()) & set(d.test.sequences())                 # no val row is a test sequence
    assert d.fingerprint["splits"]["val"]["sha256"] != d.fingerprint["splits"]["test"]["sha256"]
    with pytest.raises(TaskError, match="never the test set"):
        load(task, root, val="test", **{k: v for k, v in kw.items() if k != "val"})
    with pytest.raises(TaskError, match="never 'test'"):
        load(task, root, train_split="test")

def test_val_never_read_from_test_file(own_root):
    "Make every test sequence unique (and poison-marked): none may reach train or val, for any val option."
    path = own_root / "GUE/prom/prom_core_all/test.csv"
    df = pd.read_csv(path)
    df["sequence"] = ["GATTACA" * 10 for _ in range(len(df))]                 # 70 nt; appears nowhere else
    df.to_csv(path, index=False)
    for val in ("auto", "dev", "train"):
        d = load("prom_core_all", own_root, val=val)
        assert "GATTACA" * 10 not in set(d.train.sequences()) | set(d.val.sequences())
        assert set(d.test.sequences()) == {"GATTACA" * 10}

# ---------------------------------------------------------------- dedup, stratification, subsampling
def test_dedup_counts_on_planted_duplicates(root):
    d = load("prom_core_all", root)
    assert d.fingerprint["dedup"] == dict(val_dropped_in_train=2, val_dropped_in_test=1, train_test_overlap=1)
    assert len(d.val) == 27 and len(d.test) == 30 and len(d.train) == 120          # test and train keep theirs

def test_dedup_is_case_insensitive(tmp_path):
    seqs = random_dna(50, 20, seed=3)
    train, dev, test = seqs[:30], seqs[30:40], seqs[40:]
    test[0], dev[0], dev[1] = train[5].lower(), train[7].lower(), test[3].lower()
    for name, part in (("train", train), ("dev", dev), ("test", test)):
        write_csv(tmp_path / f"u/{name}.csv", part, [i % 2 for i in range(len(part))])
    d = load(user_task(tmp_path / "u"))
    assert d.fingerprint["dedup"] == dict(val_dropped_in_train=1, val_dropped_in_test=1, train_test_overlap=1)
    assert d.val.sequences() == [s.upper() for s in dev[2:]]

def test_dedup_within_training_pool(tmp_path):
    "A sequence repeated in the pool that val is carved from can't sit on both sides."
    seqs = random_dna(40, 20, seed=4)
    write_csv(tmp_path / "u/train.csv", seqs[:30] + [seqs[0].lower()] * 10, [0] * 20 + [1] * 20)
    write_csv(tmp_path / "u/test.csv", seqs[30:], [0, 1] * 5)
    d = load(user_task(tmp_path / "u"), val_fraction=0.5, seed=0)
    in_train = d.train.sequences().count(seqs[0])
    assert 0 < in_train < 11                                                   # copies on the train side...
    assert seqs[0] not in d.val.sequences()                                    # ...so none in val
    assert d.fingerprint["dedup"]["val_dropped_in_train"] == 11 - in_train and len(d.val) == 20 - (11 - in_train)

def test_stratified_split_properties():
    y = np.repeat([0, 1, 2, 3], [500, 300, 150, 50])
    for seed in range(5):
        keep, held = stratified_split(y, 0.1, seed=seed)
        assert len(held) == 100 and np.array_equal(np.sort(np.concatenate([keep, held])), np.arange(1000))
        assert np.array_equal(np.bincount(y[held]), [50, 30, 15, 5])
    counts = np.bincount(y[stratified_split(y, 0.123, seed=0)[1]], minlength=4)
    assert counts.sum() == 123 and (np.abs(counts - 0.123 * np.array([500, 300, 150, 50])) < 1).all()
    sub = stratified_subsample(y, 37, seed=0)
    assert len(sub) == 37 and (np.abs(np.bincount(y[sub], minlength=4) - 37 * np.array([.5, .3, .15, .05])) < 1).all()

def test_val_stratified_and_max_train_after_val(root):
    full = load("human_ensembl_regulatory", root)
    assert np.array_equal(np.bincount(full.val.labels), [2, 2, 2])             # 10% of 20 per class
    small = load("human_ensembl_regulatory", root, max_train_samples=9)
    assert len(small.train) == 9 and np.array_equal(np.bincount(small.train.labels), [3, 3, 3])
    assert small.val.digest() == full.val.digest()                             # val carved before subsampling
    assert set(small.train.sequences()) <= set(full.train.sequences())
    assert small.fingerprint["options"]["max_train_samples"] == 9

# ---------------------------------------------------------------- fingerprints
def test_fingerprint_stable_and_sensitive(own_root):
    a, b = load("prom_core_all", own_root), load("prom_core_all", own_root)
    assert a.fingerprint == b.fingerprint
    assert json.loads(json.dumps(a.fingerprint)) == a.fingerprint                # plain JSON
    files = a.fingerprint["files"]
    assert set(files) == {f"GUE/prom/prom_core_all/{s}.csv" for s in ("train", "dev", "test")}
    assert files["GUE/prom/prom_core_all/train.csv"]["rows"] == 120
    import hashlib
    raw = (own_root / "GUE/prom/prom_core_all/train.csv").read_bytes()
    assert files["GUE/prom/prom_core_all/train.csv"]["sha256"] == hashlib.sha256(raw).hexdigest()
    c = load("prom_core_all", own_root, val="train", seed=1)
    assert c.fingerprint["files"] == files and c.fingerprint["splits"]["val"] != a.fingerprint["splits"]["val"]
    path = own_root / "GUE/prom/prom_core_all/train.csv"
    path.write_bytes(raw.replace(b"A", b"C", 1))                                # one base changed
    d = load("prom_core_all", own_root)
    assert (d.fingerprint["files"]["GUE/prom/prom_core_all/train.csv"]["sha256"]
            != files["GUE/prom/prom_core_all/train.csv"]["sha256"])
    assert d.fingerprint["splits"]["train"]["sha256"] != a.fingerprint["splits"]["train"]["sha256"]

def test_fingerprint_gb_and_mtcdna(root):
    gb = load("human_ensembl_regulatory", root)
    assert set(gb.fingerprint["files"]) == {"genomic_benchmarks/human_ensembl_regulatory/train",
                                            "genomic_benchmarks/human_ensembl_regulatory/test"}
    assert gb.fingerprint["files"]["genomic_benchmarks/human_ensembl_regulatory/test"]["rows"] == 24
    m = load("mtcdna_8k", root).fingerprint["files"]
    assert len(m) == 4 and all(v["rows"] == 8 and 0 < v["kept"] <= 8 for v in m.values())

# ---------------------------------------------------------------- bad inputs
def test_unknown_task_lists_close_matches():
    with pytest.raises(TaskError, match="did you mean human_enhancers_cohn"): get_task("human_enhancer_cohn")
    with pytest.raises(TaskError, match="did you mean.*H3K4me3"): load("H3K4me33", "/tmp")

def test_missing_data_root(monkeypatch, tmp_path):
    monkeypatch.delenv("FINDNA_DATA", raising=False)
    with pytest.raises(TaskError, match="no data root: pass data_dir=... or set FINDNA_DATA"): load("tf0")
    with pytest.raises(TaskError, match="is not an existing folder"): load("tf0", tmp_path / "nope")

def test_missing_task_data_names_layout_and_source(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "genomic_benchmarks", None)                 # the package is not importable
    with pytest.raises(TaskError, match=r"(?s)GUE/<group>/<task>/\{train,dev,test\}\.csv.*DNABERT_2"):
        load("tf0", tmp_path)
    with pytest.raises(TaskError, match="pip install genomic-benchmarks.*download_dataset"):
        load("human_ocr_ensembl", tmp_path)
    with pytest.raises(TaskError, match="cdna"): load("mtcdna_1k", tmp_path)
    assert task_availability("tf0", tmp_path).status == "missing"
    assert set(availability(suite("gb"), tmp_path).status) == {"missing"}

def test_wrong_csv_columns(own_root):
    path = own_root / "GUE/prom/prom_core_all/train.csv"
    path.write_text(path.read_text().replace("sequence,label", "seq,label", 1))
    with pytest.raises(TaskError, match="train.csv: found columns seq,label; expected a header line `sequence,label`"):
        load("prom_core_all", own_root)

def test_label_outside_class_range(own_root):
    path = own_root / "GUE/prom/prom_core_all/test.csv"
    lines = path.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",2"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TaskError, match=r"label 2 at .*test.csv line 6 is outside the class range 0..1"):
        load("prom_core_all", own_root)

def test_non_integer_label(tmp_path):
    write_csv(tmp_path / "u/train.csv", ["ACGT", "ACGA"], [0, 1])
    write_csv(tmp_path / "u/test.csv", ["ACGT", "ACGA"], ["0", "1.5"])
    with pytest.raises(TaskError, match="label '1.5' at .*test.csv line 3 is not an integer"):
        load(user_task(tmp_path / "u"))

def test_empty_split(own_root):
    (own_root / "GUE/prom/prom_core_all/dev.csv").write_text("sequence,label\n")
    with pytest.raises(TaskError, match="split dev of task prom_core_all is empty"): load("prom_core_all", own_root)
    (own_root / "GUE/prom/prom_core_all/dev.csv").write_text("")
    with pytest.raises(TaskError, match="found an empty file"): load("prom_core_all", own_root)

def test_empty_gb_class_folder(own_root):
    folder = own_root / "genomic_benchmarks/human_ensembl_regulatory/test/ocr"
    for p in folder.iterdir(): p.unlink()
    with pytest.raises(TaskError, match="test/ocr holds no .txt files"): load("human_ensembl_regulatory", own_root)

def test_non_dna_character_names_file_and_line(own_root):
    path = own_root / "GUE/prom/prom_core_all/dev.csv"
    lines = path.read_text().splitlines()
    lines[7] = "ACGTJ" + lines[7][5:]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AlphabetError, match=r"'J' at position 4 .*in .*dev\.csv line 8"):
        load("prom_core_all", own_root)

def test_non_dna_character_gb_file(own_root):
    f = own_root / "genomic_benchmarks/human_ensembl_regulatory/train/promoter/205.txt"
    f.write_text("ACGT-ACGT")
    with pytest.raises(AlphabetError, match=r"'-' at position 4 .*promoter/205\.txt line 1"):
        load("human_ensembl_regulatory", own_root)

def test_non_dna_character_fasta_line(own_root):
    path = next((own_root / "mtcdna").glob("Mus_spretus*"))
    lines = path.read_text().splitlines()
    n = next(i for i, l in enumerate(lines) if l.startswith(">Mus_spretus_3")) + 4   # 4th sequence line of a record
    if len("".join(lines[lines.index(">Mus_spretus_3") + 1:]).split(">")[0]) <= 5000:   # make sure it is kept
        lines.insert(n, "A" * 6000)
    lines[n] = lines[n][:10] + "Z" + lines[n][11:]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AlphabetError, match=rf"'Z' at position 10 .*Mus_spretus.toy.cdna.fa line {n + 1}"):
        load("mtcdna_1k", own_root)

def test_dev_only_task_needs_explicit_train_split(root):
    with pytest.raises(TaskError, match=r"no train split.*train_split='dev'.*dev-trained"): load("H3", root)
    d = load("H3", root, train_split="dev")
    assert d.protocol == "dev-trained" and any("dev-trained" in n for n in d.notes)
    assert d.fingerprint["protocol"] == "dev-trained" and d.fingerprint["options"]["train_split"] == "dev"
    assert len(d.train) + len(d.val) == 60 and len(d.test) == 30
    with pytest.raises(TaskError, match="dev is the training split"): load("H3", root, train_split="dev", val="dev")

def test_bad_options(root):
    with pytest.raises(TaskError, match="no dev split"): load("human_ensembl_regulatory", root, val="dev")
    with pytest.raises(TaskError, match=r"val_fraction=1.5 must be in \(0, 1\)"):
        load("prom_core_all", root, val_fraction=1.5)
    with pytest.raises(TaskError, match="max_train_samples=0"): load("prom_core_all", root, max_train_samples=0)
    with pytest.raises(TaskError, match="unknown suite"): suite("findna21")

def test_longer_than_length_raises_with_file_line_and_fix(own_root):
    path = own_root / "GUE/prom/prom_core_all/train.csv"
    lines = path.read_text().splitlines()
    lines[10] = "A" * 75 + "," + lines[10].rsplit(",", 1)[1]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TaskError, match=r"train.csv line 11: sequence of 75 nt is longer than the task's length 70"
                                        r".*length=75"):
        load("prom_core_all", own_root)
    d = load("prom_core_all", own_root, length=75)
    assert d.length == 75 and d.train.lengths[9] == 75 and (d.test.lengths == 70).all()

def test_protocol_label_from_caller(root):
    d = load("human_ensembl_regulatory", root, protocol="re-split")
    assert d.protocol == "re-split" and d.fingerprint["protocol"] == "re-split"
    assert load("H3", root, train_split="dev", protocol="re-split").protocol == "dev-trained, re-split"

# ---------------------------------------------------------------- GB download path and availability
def test_gb_download_when_package_installed(tmp_path, monkeypatch, root):
    "A stand-in `genomic_benchmarks.loc2seq.download_dataset` that copies the synthetic cache folder."
    import shutil
    calls = []
    def download_dataset(name, version=None, dest_path=None, **kw):
        calls.append((name, version, dest_path))
        shutil.copytree(root / "genomic_benchmarks" / name, Path(dest_path) / name)
        return Path(dest_path) / name
    pkg, sub = types.ModuleType("genomic_benchmarks"), types.ModuleType("genomic_benchmarks.loc2seq")
    sub.download_dataset, pkg.loc2seq = download_dataset, sub
    monkeypatch.setitem(sys.modules, "genomic_benchmarks", pkg)
    monkeypatch.setitem(sys.modules, "genomic_benchmarks.loc2seq", sub)
    empty = tmp_path / "data"; empty.mkdir()
    with pytest.raises(TaskError, match="no data"): load("human_ensembl_regulatory", empty, download=False)
    d = load("human_ensembl_regulatory", empty)
    assert calls == [("human_ensembl_regulatory", 0, str(empty / "genomic_benchmarks"))]
    assert any("downloaded with genomic-benchmarks" in n for n in d.notes) and len(d.test) == 24
    load("human_ensembl_regulatory", empty); assert len(calls) == 1                 # present now: no second download

def test_local_suite_and_availability(root):
    assert suite("local", root) == ["human_ensembl_regulatory", "H3", "prom_core_all",
                                    "mtcdna_1k", "mtcdna_4k", "mtcdna_8k", "mtcdna_16k"]
    table = availability(data_dir=root)
    assert (len(table) == 41 and table.loc["H3", "status"] == "dev-only"
            and "train_split='dev'" in table.loc["H3", "reason"])
    assert table.loc["tf1", "status"] == "missing" and "DNABERT_2" in table.loc["tf1", "reason"]

# ---------------------------------------------------------------- real data (../shared/data), skipped when absent
def test_real_gue_prom_core_all():
    folder = shared_data("GUE", "prom", "prom_core_all")
    d = load("prom_core_all", folder.parents[2])
    csv = {s: pd.read_csv(folder / f"{s}.csv") for s in ("train", "dev", "test")}
    assert (len(d.train), len(d.test)) == (47356, 5920) and d.protocol == "official"
    train, test = set(csv["train"].sequence), set(csv["test"].sequence)
    in_train, in_test = csv["dev"].sequence.isin(train), csv["dev"].sequence.isin(test)
    assert d.fingerprint["dedup"] == dict(val_dropped_in_train=int(in_train.sum()),
                                          val_dropped_in_test=int((in_test & ~in_train).sum()),
                                          train_test_overlap=int(csv["train"].sequence.isin(test).sum()))
    assert len(d.val) == len(csv["dev"]) - int((in_train | in_test).sum())
    assert np.array_equal(d.test.labels, csv["test"].label.to_numpy())

def test_real_gue_tf0_and_tf4_dedup():
    folder = shared_data("GUE", "tf", "4")
    d = load("tf4", folder.parents[2])
    dev, train = pd.read_csv(folder / "dev.csv"), pd.read_csv(folder / "train.csv")
    assert d.fingerprint["dedup"]["val_dropped_in_train"] == int(dev.sequence.isin(set(train.sequence)).sum())
    assert dev.sequence[dev.sequence.isin(set(train.sequence))].nunique() == 346          # the README's count
    t0 = load("tf0", folder.parents[2])
    assert (len(t0.train), len(t0.test), t0.length) == (32378, 1000, 101)

def test_real_gue_dev_only_task():
    folder = shared_data("GUE", "EMP", "H3K14ac")
    with pytest.raises(TaskError, match="train_split='dev'"): load("H3K14ac", folder.parents[2])
    d = load("H3K14ac", folder.parents[2], train_split="dev")
    dev = pd.read_csv(folder / "dev.csv")
    assert d.protocol == "dev-trained" and len(d.train) + len(d.val) + sum(d.fingerprint["dedup"][k] for k in
           ("val_dropped_in_train", "val_dropped_in_test")) == len(dev)
    assert d.length == 500 and min(d.train.lengths.min(), d.val.lengths.min()) == 290   # the 290-nt row: padded, kept
    assert task_availability("H3K14ac", folder.parents[2]).status == "dev-only"

@pytest.mark.parametrize("name,counts", [("human_nontata_promoters", (3295 + 3932, 824 + 983)),
                                         ("human_enhancers_cohn", (2 * 2779, 2 * 695))])
def test_real_gb(name, counts):
    folder = shared_data("genomic_benchmarks", name)
    d = load(name, folder.parents[1], protocol="re-split")
    assert (len(d.train) + len(d.val), len(d.test)) == counts and d.classes == ["negative", "positive"]
    assert d.protocol == "re-split" and (d.train.lengths == TASKS[name].length).all()
    first = sorted((folder / "test/negative").glob("*.txt"), key=lambda p: int(p.stem))[0].read_text().strip()
    assert d.test.sequences()[0] == first.upper() and d.test.labels[0] == 0

def test_max_val_samples_subsamples_val_only(tmp_path):
    from findna.tasks import load, write_synthetic_data
    root = write_synthetic_data(tmp_path / "data", seed=0)
    full = load("prom_core_all", root, seed=0)
    small = load("prom_core_all", root, seed=0, max_val_samples=4)
    assert len(small.val) == 4 < len(full.val)
    assert len(small.test) == len(full.test) and np.array_equal(small.test.idx, full.test.idx)
    assert np.bincount(small.val.labels).min() >= 1                     # stratified: both classes kept
    assert small.fingerprint["options"]["max_val_samples"] == 4
    with pytest.raises(TaskError, match="max_val_samples=0"): load("prom_core_all", root, max_val_samples=0)
