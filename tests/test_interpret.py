"""`findna-explain` and `findna.interpret` on a tiny fine-tuned classifier: the files and shapes it writes, that its
scores are the classifier's log-odds, that ISM finds a motif a classifier depends on, and that bad input names the
record (and line) at fault."""
import subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import torch
from findna.finetuning import finetune
from findna.interpret import ExplainError, TangermemeView, attribute, explain, explain_cli, read_for_explain
from findna.predict import predict_sequences
from findna.tasks import load, write_synthetic_data

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    ("A tiny classifier fine-tuned for two epochs on the synthetic prom_core_all, and a FASTA of six of its test"
     " records.")
    tmp = tmp_path_factory.mktemp("explain")
    root = write_synthetic_data(tmp / "data")
    finetune(task="prom_core_all", data_dir=str(root), preset="tiny", epochs=2, batch_size=16, lr=3e-3,
             precision="fp32", out_dir=str(tmp / "ft"), verbose=False)
    test = load("prom_core_all", root).test
    fasta = tmp / "t.fa"
    fasta.write_text("".join(f">rec{i} y={y}\n{s[:35]}\n{s[35:]}\n" for i, (s, y) in
                             enumerate(zip(test.sequences()[:6], test.labels))))
    return tmp / "ft", fasta

def test_cli_writes_attributions_logos_and_seqlets(tiny_run, tmp_path):
    run, fasta = tiny_run
    explain_cli(["--model", str(run / "best"), "--input", str(fasta), "--out", str(tmp_path / "ex"), "--n-logos", "3",
                 "--motif", "GGGCGG", "--threads", "1"])
    z = np.load(tmp_path / "ex" / "attributions.npz")
    assert z["attributions"].shape == z["one_hot"].shape == (6, 4, 70)
    assert z["ids"].tolist() == [f"rec{i}" for i in range(6)] and z["lengths"].tolist() == [70] * 6
    assert (str(z["method"]), int(z["target"]), str(z["class_name"])) == ("ism", 1, "1")
    assert np.all(z["attributions"] * (1 - z["one_hot"]) == 0)             # projected onto the observed bases
    assert np.all(z["one_hot"].sum(1) == 1)
    assert sorted(p.name for p in (tmp_path / "ex" / "logos").iterdir()) == ["0000_rec0.png", "0001_rec1.png",
                                                                             "0002_rec2.png"]
    seqlets = pd.read_csv(tmp_path / "ex" / "seqlets.csv")
    assert {"id", "start", "end", "attribution", "sequence", "motif"} <= set(seqlets.columns) or seqlets.empty
    p1 = predict_sequences(run, fasta, precision="fp32")["p_1"].to_numpy()
    np.testing.assert_allclose(z["scores"], np.log(p1 / (1 - p1)), atol=1e-4)   # the classifier's log-odds of class 1

def test_console_script_and_deep_lift_shap(tiny_run, tmp_path):
    run, fasta = tiny_run
    exe = Path(sys.executable).parent / "findna-explain"
    if not exe.is_file(): pytest.skip("findna-explain is not installed in this environment (pip install -e .)")
    done = subprocess.run([str(exe), "--model", str(run), "--input", str(fasta), "--out", str(tmp_path / "dls"),
                           "--method", "deep_lift_shap", "--n-shuffles", "4", "--n-logos", "0", "--threads", "1"],
                          capture_output=True, text=True, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "attributions of class '1' (deep_lift_shap) for 6 records" in done.stdout
    z = np.load(tmp_path / "dls" / "attributions.npz")
    assert z["attributions"].shape == (6, 4, 70) and not any((tmp_path / "dls" / "logos").iterdir())
    again = subprocess.run([str(exe), "--model", str(run), "--input", str(fasta), "--out", str(tmp_path / "dls")],
                           capture_output=True, text=True)
    assert again.returncode == 2 and "exists and is not empty" in again.stderr

@pytest.mark.parametrize("text, where", [(">a\nACGT\n>b second\nACNT\n", "record #1 'b'"),
                                         (">a\nACGT\n>b\nAC\nXT\n", "line 5")])
def test_bad_records_are_named(tiny_run, tmp_path, text, where):
    run, _ = tiny_run
    (tmp_path / "bad.fa").write_text(text)
    with pytest.raises(Exception, match=where):
        explain(run, tmp_path / "bad.fa")
    with pytest.raises(SystemExit):                                          # the CLI: one line, exit 2
        explain_cli(["--model", str(run), "--input", str(tmp_path / "bad.fa"), "--out", str(tmp_path / "o")])

def test_errors_name_the_setting(tiny_run, tmp_path):
    run, fasta = tiny_run
    with pytest.raises(ExplainError, match=r"its classes are \['0', '1'\]"): explain(run, fasta, target=2)
    with pytest.raises(ExplainError, match="sequence #1"): read_for_explain(["ACGT", "ACNT"])
    with pytest.raises(ExplainError, match="longer than the classifier's 70 nt"): explain(run, ["ACGT" * 20])
    (tmp_path / "x.csv").write_text("id,seq\na,ACGT\n")
    with pytest.raises(Exception, match="no `sequence` column"): explain(run, tmp_path / "x.csv")

def test_ism_finds_the_motif_a_network_depends_on():
    "A convolution that scores one motif: ISM puts its attribution on the planted copy, and nowhere else."
    conv = torch.nn.Conv1d(5, 1, 6, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        for j, b in enumerate("CACGTG"): conv.weight[0, "ACGT".index(b), j] = 1
    class Net(torch.nn.Module):
        def forward(self, x, lengths=None):
            s = conv(x.transpose(1, 2)).amax(-1)
            return torch.cat([-s, s], 1)
    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(list("AT"), 50)) for _ in range(3)]
    seqs = [s[:p] + "CACGTG" + s[p + 6:] for s, p in zip(seqs, (4, 21, 40))]
    X = torch.zeros(3, 4, 50)
    for i, s in enumerate(seqs): X[i, ["ACGT".index(c) for c in s], torch.arange(50)] = 1
    # log-odds 2 · 6
    with torch.no_grad(): assert torch.allclose(TangermemeView(Net())(X)[:, 1], torch.full((3,), 12.))
    a = attribute(Net(), X, target=1, method="ism").sum(1)
    for i, p in enumerate((4, 21, 40)):
        assert a[i, p:p + 6].min() > 1 and a[i, :p].abs().max() < 1e-5 and a[i, p + 6:].abs().max() < 1e-5
