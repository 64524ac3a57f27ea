"The shipped teacher (data/pretrained/findna-small-chr20): loads by name, its checksum and provenance hold, it embeds."
import hashlib, re
import numpy as np, pytest
from conftest import ROOT
from findna.model import PRETRAINED, CheckpointError, FinDNA, checkpoint_metadata, embed, pretrained_path

NAME = "findna-small-chr20"
TEACHERS = ROOT / "results" / "recipe-ablation" / "teachers"   # the equal-budget networks results/downstream fine-tunes

def assert_readme_checksum(folder):
    "A checkpoint folder's README states the sha256 of its model.safetensors."
    sha = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert sha in (folder / "README.md").read_text(), f"{folder}: README's sha256 does not match model.safetensors"

def test_shipped_teacher_loads_by_name_with_provenance():
    path = pretrained_path(NAME)
    assert path == ROOT / "data" / "pretrained" / NAME and NAME in PRETRAINED
    model = FinDNA.from_pretrained(NAME)
    assert model.role == "teacher" and model.config.head == "dino"
    info = checkpoint_metadata(path)["pretraining"]
    assert info["recipe"] == "findna" and info["tokens_seen"] >= 5_000_000
    assert info["genome"] == "human_chr20_GRCh37.fa.gz" and "validation" in info["heldout"]
    assert_readme_checksum(path)
    x = embed(model, ["ACGTACGTTTGACA" * 5, "GGGCCCATAT" * 3])
    assert x.shape == (2, model.config.embed_dim) and np.isfinite(x).all()

def test_unknown_path_is_not_taken_for_a_shipped_name(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint directory"):
        FinDNA.from_pretrained(tmp_path / "nothing-here")


def test_shipped_teacher_starts_a_classifier_by_name():
    from findna.model import FinDNAClassifier
    clf = FinDNAClassifier.from_pretrained("findna-small-chr20", n_classes=3, max_len=70)
    assert clf.n_classes == 3 and clf.config.max_len == 70 and "layers pretrained" in clf.init

@pytest.mark.parametrize("name,objective", [("findna-seed0", "both"), ("findna-mlm-seed0", "mlm")])
def test_committed_ablation_teachers_match_their_checksums(name, objective):
    ("The equal-budget teachers fine-tuned in results/downstream (findna-5M, mlm-5M): README sha256 = the weights; "
     "objective as named.")
    assert_readme_checksum(TEACHERS / name)
    info = checkpoint_metadata(TEACHERS / name)["pretraining"]
    assert info["tokens_seen"] == 5_008_000 and info["objective"] == objective

def test_the_shipped_networks_are_listed_with_their_cards(capsys):
    import findna
    from findna.embeddings import embed_cli
    cards = findna.list_pretrained()
    assert list(cards) == list(PRETRAINED) and all(c.startswith(f"`{n}`") for n, c in cards.items())
    embed_cli(["--list"])
    assert capsys.readouterr().out.splitlines()[0] == f"{NAME}: {cards[NAME]}"
    card = (ROOT / "data" / "pretrained" / NAME / "README.md").read_text()
    assert all(h in card for h in ("**Intended use**", "**Training data**", "**Limitations**", "**Licence**"))

def test_a_wheel_install_outside_the_clone_finds_the_shipped_model_and_demo_genome(tmp_path):
    ("pip install of a built wheel (not editable), used from another folder: the shipped teacher and the demo genome "
     "load.")
    import subprocess, sys
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "wheel")], check=True, capture_output=True)
    wheel = next((tmp_path / "wheel").glob("findna-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q", "--prefix",
                    str(tmp_path / "env"), str(wheel)], check=True, capture_output=True)
    site = next((tmp_path / "env").glob("lib/python*/site-packages"))
    code = ("import findna, findna.model as m, findna.genome as g; t = m.FinDNA.from_pretrained('findna-small-chr20'); "
            "print(findna.__file__, m.pretrained_path('findna-small-chr20'), g.demo_genome_path(), t.role)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(site)})
    assert done.returncode == 0, done.stderr[-1500:]
    module, model, genome, role = done.stdout.split()
    assert module.startswith(str(tmp_path)) and model.startswith(str(tmp_path / "env" / "share" / "findna"))
    assert genome.startswith(str(tmp_path / "env")) and role == "teacher"

def test_the_mlm_only_twin_is_shipped_with_the_same_budget_as_the_teacher():
    ("findna-small-chr20-mlm: the shipped teacher's run without self-distillation — same tokens, seed, genome, "
     "held-out region.")
    twin, ref = [checkpoint_metadata(pretrained_path(n))["pretraining"] for n in ("findna-small-chr20-mlm", NAME)]
    assert twin["objective"] == "mlm" and ref["objective"] != "mlm"
    for k in ("tokens_seen", "seed", "genome", "heldout", "window", "steps_planned"): assert twin[k] == ref[k], k
    assert twin["tokens_seen"] == 100_000_000 and not twin["interim"]
    assert_readme_checksum(pretrained_path("findna-small-chr20-mlm"))
    model = FinDNA.from_pretrained("findna-small-chr20-mlm")
    assert model.role == "teacher" and "findna-small-chr20-mlm" in PRETRAINED
