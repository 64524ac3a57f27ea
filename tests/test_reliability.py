"""Nothing lost, nothing silently wrong: each case below lost data, was accepted silently or gave an unclear error
before run folders knew their kind and state, configs were typed in one place and CLI errors became one line."""
import gzip, json, os, shutil, signal, stat, subprocess, sys, time, warnings
from pathlib import Path
import numpy as np, pytest, torch
from conftest import DEMO_GENOME, ROOT
from findna.config import ConfigError, resolve_device
from findna.embeddings import EmbedConfig, embed_fasta
from findna.evaluation import EvalConfig
from findna.finetuning import FinetuneConfig, FinetuneError, finetune
from findna.genome import Genome, GenomeError
from findna.model import CheckpointError, FinDNA, FinDNAConfig, FinDNAError, embed
from findna.runs import RunFolderError, read_metrics
from findna.tasks import TaskError, load, write_synthetic_data
from findna.trainer import PretrainConfig, load_checkpoint, pretrain

TINY = dict(fasta=str(DEMO_GENOME), preset="tiny", batch_size=4, val_chroms="chr20_b", eval_batches=1, threads=1,
            precision="fp32", log_every=1, eval_every=2, ckpt_every=2)
FT = dict(task="prom_core_all", preset="tiny", epochs=1, batch_size=16, lr=3e-3, precision="fp32", verbose=False,
          threads=1)

def run(tmp_path, name, **kw): return pretrain(PretrainConfig(**{**TINY, "out": str(tmp_path / name), **kw}), set(kw))

@pytest.fixture(scope="module")
def data_root(tmp_path_factory): return write_synthetic_data(tmp_path_factory.mktemp("data"))

# ------------------------------------------------------------------------------------------- run folders
def test_finished_pretraining_run_is_not_overwritten_even_without_checkpoints(tmp_path):
    out = run(tmp_path, "done", steps=2)
    before = (out / "teacher" / "model.safetensors").read_bytes()
    shutil.rmtree(out / "checkpoints")                                   # the old guard looked only at checkpoints/last
    for resume in (False, True):
        with pytest.raises(RunFolderError, match="already holds a run: a finished pretrain run"):
            run(tmp_path, "done", steps=2, resume=resume)
    assert (out / "teacher" / "model.safetensors").read_bytes() == before

def test_pretraining_and_finetuning_do_not_share_a_folder(tmp_path, data_root):
    out = run(tmp_path, "pre", steps=2)
    metrics = (out / "metrics.jsonl").read_text()
    with pytest.raises(RunFolderError, match="is a pretrain run folder; write this finetune run into another folder"):
        finetune(**FT, data_dir=str(data_root), out_dir=str(out))
    assert (out / "metrics.jsonl").read_text() == metrics
    ft = finetune(**FT, data_dir=str(data_root), out_dir=str(tmp_path / "ft"))
    with pytest.raises(RunFolderError, match="is a finetune run folder"): run(tmp_path, "ft", steps=2)
    assert json.loads((tmp_path / "ft" / "results.json").read_text())["test"] == ft["test"]

def test_out_that_is_a_file_or_a_foreign_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="is a file; a run needs a folder"): run(tmp_path, "file", steps=2)
    (tmp_path / "mine").mkdir(); (tmp_path / "mine" / "notes.txt").write_text("my notes")
    with pytest.raises(RunFolderError, match="is not empty and holds no run.json"): run(tmp_path, "mine", steps=2)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "my notes"

# ------------------------------------------------------------------------------------------- checked before any work
@pytest.mark.parametrize("bad, match", [(dict(eval_batches=0), "eval_batches=0 must be >= 1"),
                                        (dict(mask_ratio=0.0), r"mask_ratio=0.0 must be in \(0, 1\)"),
                                        (dict(steps="abc"), "pretraining setting steps='abc': expected an integer"),
                                        (dict(device="gpu"), "device='gpu': use auto"),
                                        (dict(stepz=3), "did you mean 'steps'")])
def test_bad_pretraining_settings_fail_before_work(tmp_path, bad, match):
    with pytest.raises(ConfigError, match=match): PretrainConfig.from_dict({**TINY, "out": str(tmp_path / "r"), **bad})
    assert not (tmp_path / "r").exists()

def test_strings_are_converted_by_type_not_truthiness():
    cfg = FinetuneConfig.from_parameters(dict(rc_tta="no", data_dir="x", epochs="3", lr="1e-3"))
    assert (cfg.rc_tta, cfg.epochs, cfg.lr) == (False, 3, 1e-3)
    assert PretrainConfig.from_dict(dict(strand_flip="false", prenorm="0")).strand_flip is False
    with pytest.raises(FinetuneError, match="fine-tuning parameter epochs='abc': expected an integer or None"):
        FinetuneConfig(epochs="abc")
    with pytest.raises(FinetuneError, match="repeats a seed"): EvalConfig(seeds="0,0", inits="scratch")
    assert FinetuneConfig(device="cuda:1").device == "cuda:1"            # the same device rules everywhere

@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_asked_for_without_cuda():
    with pytest.raises(ConfigError, match="torch sees no CUDA GPU here"): resolve_device("cuda")

# ------------------------------------------------------------------------------------------- resume checks the data
def test_resume_with_another_genome_of_the_same_layout_is_refused(tmp_path):
    part = run(tmp_path, "part", steps=4, stop_after=2)
    other = tmp_path / "other.fa"                                       # same contig names and lengths, other bases
    text = DEMO_GENOME.read_text().splitlines()
    other.write_text("\n".join(l if l.startswith(">") else l.translate(str.maketrans("ACGTacgt", "TGCAtgca"))
                               for l in text) + "\n")
    assert Genome(other).lengths == Genome(DEMO_GENOME).lengths
    with pytest.raises(ConfigError, match="is not the one this run was started on"):
        pretrain(PretrainConfig(**{**TINY, "out": str(part), "steps": 4, "fasta": str(other), "resume": True}),
                 {"resume", "out", "fasta"})

# ------------------------------------------------------------------------------------------- damaged files
def test_truncated_checkpoint_falls_back_to_the_previous_one(tmp_path, capfd):
    part = run(tmp_path, "part", steps=8, stop_after=4)
    ckpts = sorted((part / "checkpoints").glob("step-*"))
    assert [p.name for p in ckpts] == ["step-0000002", "step-0000004"]   # the last two are kept
    (ckpts[-1] / "state.pt").write_bytes((ckpts[-1] / "state.pt").read_bytes()[:1000])
    assert load_checkpoint(part)["step"] == 2
    err = capfd.readouterr().err
    assert "step-0000004/state.pt" in err and "could not be read; resuming from" in err
    resumed = pretrain(PretrainConfig(**{**TINY, "out": str(part), "steps": 8, "resume": True}), {"resume", "out"})
    assert (load_checkpoint(resumed)["step"] == 8
            and sorted(read_metrics(resumed).query("split == 'train'").step) == list(range(1, 9)))

def test_torn_last_metrics_line_is_dropped_with_a_note(tmp_path):
    part = run(tmp_path, "part", steps=4, stop_after=2)
    with open(part / "metrics.jsonl", "a") as f: f.write('{"step": 3, "split": "tr')
    with pytest.warns(UserWarning, match="incomplete last record"):
        resumed = pretrain(PretrainConfig(**{**TINY, "out": str(part), "steps": 4, "resume": True}), {"resume", "out"})
    assert sorted(read_metrics(resumed).query("split == 'train'").step) == [1, 2, 3, 4]

def test_truncated_safetensors_names_the_file(tmp_path):
    path = FinDNA(FinDNAConfig.preset("tiny")).save_pretrained(tmp_path / "m")
    w = path / "model.safetensors"; w.write_bytes(w.read_bytes()[:200])
    with pytest.raises((CheckpointError, FinDNAError), match=str(w.name)): FinDNA.from_pretrained(path)

# ------------------------------------------------------------------------------------------- honest reports
def test_single_class_test_split_is_noted_and_a_single_class_train_split_refused(tmp_path):
    root = tmp_path / "mine"; root.mkdir()
    rng = np.random.default_rng(0)
    seq = lambda: "".join(rng.choice(list("ACGT"), 40))
    for split, labels in (("train", [0, 1] * 20), ("dev", [0, 1] * 5), ("test", [1] * 10)):
        (root / f"{split}.csv").write_text("sequence,label\n" + "".join(f"{seq()},{l}\n" for l in labels))
    data = load(str(root))
    assert any("the test split holds a single class" in n for n in data.notes)
    (root / "train.csv").write_text("sequence,label\n" + "".join(f"{seq()},1\n" for _ in range(20)))
    with pytest.raises(TaskError, match="the training split holds a single class"): load(str(root))

def test_genomic_benchmarks_files_with_another_extension_are_an_error(tmp_path):
    root = write_synthetic_data(tmp_path / "data")
    (root / "genomic_benchmarks/human_ensembl_regulatory/train/ocr/17.seq").write_text("ACGT")
    with pytest.raises(TaskError, match=r"ocr holds 1 file\(s\) that are not <id>.txt \(e.g. '17.seq'\)"):
        load("human_ensembl_regulatory", root)

# ------------------------------------------------------------------------------------------- errors a person can act on
def test_embed_errors_name_the_users_index_and_the_fasta_record_and_line(tmp_path):
    model = FinDNA(FinDNAConfig.preset("tiny"))
    with pytest.raises(FinDNAError, match=r"sequence #2 \(0-based, in the order given\): invalid DNA character 'X'"):
        # the longest first would make it '#2' of another order
        embed(model, ["ACGT" * 10, "AC", "ACXT"], verbose=False)
    with pytest.raises(FinDNAError, match=r"sequence #1 \(0-based, in the order given\) is NoneType"):
        embed(model, ["ACGT", None], verbose=False)
    fa = tmp_path / "q.fa"; fa.write_text(">first\nACGT\n>second\nACGT\nACQT\n")
    with pytest.raises(FinDNAError, match=r"record #1 'second'.*q.fa line 5"): embed(model, fa, verbose=False)

CLI = [sys.executable, "-m", "findna.trainer", "--fasta", str(DEMO_GENOME), "--preset", "tiny", "--threads", "1"]

def test_cli_errors_are_one_line_and_debug_shows_the_traceback(tmp_path):
    done = subprocess.run(CLI + ["--steps", "0", "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0] == "findna-pretrain: error: steps, batch_size and grad_accum must be > 0"
    done = subprocess.run(CLI + ["--steps", "0", "--debug"], capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" in done.stderr
    (tmp_path / "f").write_text("x")
    done = subprocess.run(CLI + ["--steps", "2", "--out", str(tmp_path / "f")], capture_output=True, text=True)
    assert done.returncode == 2 and "is a file; a run needs a folder" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "findna.trainer", "--device", "gpu"], capture_output=True, text=True)
    assert (done.returncode == 2
            and "device='gpu': use auto (CUDA if available, else CPU) | cpu | cuda | cuda:N" in done.stderr)

def test_torchrun_failure_names_rank_zeros_error(tmp_path):
    from findna.trainer import launch
    cfg = PretrainConfig(**{**TINY, "fasta": str(tmp_path / "missing.fa"), "out": str(tmp_path / "ddp"), "steps": 2})
    with pytest.raises(RuntimeError, match="rank 0 said: genome FASTA not found"): launch(cfg, 2)

# ------------------------------------------------------------------------------------------ data folders stay untouched
@pytest.mark.skipif(os.geteuid() != 0,
                    reason="the case is about root, for whom os.access says every folder is writable")
def test_index_of_a_fasta_in_a_mode_read_only_folder_goes_to_the_cache(tmp_path):
    ro = tmp_path / "ro"; ro.mkdir()
    shutil.copy(DEMO_GENOME, ro / "g.fa")
    ro.chmod(0o555)
    try:
        with pytest.raises(GenomeError, match="no .fai index and its folder is read-only; pass cache_dir"):
            Genome(ro / "g.fa")
        g = Genome(ro / "g.fa", cache_dir=tmp_path / "cache")
        assert g.fetch(g.chroms[0], 0, 10) and sorted(p.name for p in ro.iterdir()) == ["g.fa"]
        assert (tmp_path / "cache" / "g.fa.fai").is_file()
    finally: ro.chmod(0o755)

# ------------------------------------------------------------------------------------------- kill a fine-tuning run
KILL_FT = r'''
import sys, findna.finetuning as F
real = F.append_jsonl
def die_after_first_eval(path, rec):
    real(path, rec)
    import os; os.kill(os.getpid(), 9)
F.append_jsonl = die_after_first_eval
F.finetune_cli(sys.argv[1:])
'''

def test_sigkill_during_finetuning_then_rerun_equals_an_uninterrupted_run(tmp_path, data_root):
    args = ["--task", "prom_core_all", "--data-dir", str(data_root), "--preset", "tiny", "--epochs", "2",
            "--batch-size", "16", "--lr", "3e-3", "--precision", "fp32", "--threads", "1", "--no-verbose"]
    done = subprocess.run([sys.executable, "-c", KILL_FT, *args, "--out-dir", str(tmp_path / "killed")],
                          capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL and not (tmp_path / "killed" / "results.json").exists()
    again = subprocess.run([sys.executable, "-m", "findna.finetuning", *args, "--out-dir", str(tmp_path / "killed")],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    whole = subprocess.run([sys.executable, "-m", "findna.finetuning", *args, "--out-dir", str(tmp_path / "whole")],
                           capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr[-2000:]
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("killed", "whole"))
    # the rerun restarts the cell from scratch
    assert a["test"] == b["test"] and a["val"] == b["val"] and a["steps"] == b["steps"]


def test_resume_of_a_folder_without_checkpoints_leaves_nothing_behind(tmp_path):
    with pytest.raises(ConfigError, match="holds no checkpoints/ to continue from"):
        run(tmp_path, "never", steps=2, resume=True)
    assert not (tmp_path / "never").exists()
    assert (run(tmp_path, "never", steps=2) / "teacher").is_dir()          # the same folder then starts normally


def test_a_run_killed_before_its_first_checkpoint_starts_again(tmp_path):
    from findna.runs import claim_run
    claim_run(tmp_path / "early", "pretrain")                                # what a run killed at step 1 leaves behind
    with pytest.raises(ConfigError, match="stopped before its first checkpoint; start it again without --resume"):
        run(tmp_path, "early", steps=2, resume=True)
    assert (run(tmp_path, "early", steps=2) / "teacher").is_dir()

def test_finetuning_never_adopts_a_folder_that_is_not_its_run(tmp_path):
    "A folder with a metrics.jsonl but no run.json (e.g. an old pretraining run) is refused, and left as it was."
    from findna.finetuning import finetune
    from findna.runs import RunFolderError
    from findna.tasks import write_synthetic_data
    root, folder = write_synthetic_data(tmp_path / "data"), tmp_path / "committed"
    folder.mkdir()
    (folder / "metrics.jsonl").write_text("".join(f'{{"step": {i}}}\n' for i in range(48)))
    with pytest.raises(RunFolderError, match="not a findna run folder"):
        finetune(task="prom_core_all", data_dir=str(root), preset="tiny", epochs=1, precision="fp32",
                 out_dir=str(folder), verbose=False)
    assert (len((folder / "metrics.jsonl").read_text().splitlines()) == 48
            and sorted(p.name for p in folder.iterdir()) == ["metrics.jsonl"])
    for committed in ("results/pretrain-chr20-small", "results/recipe-ablation/horizon/center-seed0"):
        assert json.loads((ROOT / committed / "run.json").read_text())["state"] == "finished"

def test_numbers_a_run_cannot_use_are_refused_by_name():
    "--lr inf, --lr -1e-3 (exponent form), --seed -1: one clear error naming the setting, before any work."
    from findna.trainer import parse_args
    for argv, msg in ((["--lr", "inf"], "lr=inf must be a finite number > 0"),
                      (["--lr", "-1e-3"], "lr=-0.001 must be a finite"),
                      (["--seed", "-1"], "seed=-1 must be an integer >= 0")):
        with pytest.raises(ConfigError, match=msg): parse_args(argv)

def test_folders_with_label_gaps_no_rows_or_test_copies_of_train_are_named(tmp_path):
    ("Labels {0, 2}: an error naming the empty class; header-only CSVs: 'no rows'; train rows copied into test: "
     "a warning and a note.")
    import pandas as pd
    from findna.tasks import TaskWarning, user_task, write_motif_task
    gap = write_motif_task(tmp_path / "gap", dict(train=40, test=20), length=30)
    for s in ("train", "test"):
        df = pd.read_csv(gap / f"{s}.csv"); df.label = df.label * 2; df.to_csv(gap / f"{s}.csv", index=False)
    with pytest.raises(TaskError, match=r"class\(es\) \[1\].*renumber the labels without gaps"): load(user_task(gap))
    empty = tmp_path / "empty"; empty.mkdir()
    for s in ("train", "dev", "test"): (empty / f"{s}.csv").write_text("sequence,label\n")
    with pytest.raises(TaskError, match="only a header, no rows"): user_task(empty)
    leak = write_motif_task(tmp_path / "leak", dict(train=200, test=100), length=30)
    train, test = pd.read_csv(leak / "train.csv"), pd.read_csv(leak / "test.csv")
    pd.concat([test.iloc[:60], train.iloc[:40]]).to_csv(leak / "test.csv", index=False)     # 40 test rows copy train
    with pytest.warns(TaskWarning, match="also appear in the test split"): data = load(user_task(leak))
    assert (any("also appear in the test split" in n for n in data.notes)
            and data.fingerprint["dedup"]["train_test_overlap"] > 0)

def test_checkpoints_follow_the_umask(tmp_path):
    "A checkpoint folder is readable by the group when the umask says so (tempfile alone would make it 0700)."
    old = os.umask(0o022)
    try:
        path = FinDNA(FinDNAConfig.preset("tiny"), seed=0).save_pretrained(tmp_path / "shared" / "teacher",
                                                                           role="teacher")
        assert stat.S_IMODE(path.stat().st_mode) == 0o755
        assert stat.S_IMODE((path / "model.safetensors").stat().st_mode) == 0o644
        pretrain(PretrainConfig(**TINY, steps=2, out=str(tmp_path / "run")))
        ckpt = (tmp_path / "run" / "checkpoints" / "last").resolve()
        assert stat.S_IMODE(ckpt.stat().st_mode) == 0o755 and stat.S_IMODE((ckpt / "state.pt").stat().st_mode) == 0o644
    finally: os.umask(old)

def test_truncated_gzip_and_bgzip_genomes_are_named(tmp_path):
    ("A genome cut short, plain gzip or bgzip: one GenomeError naming the file and the check to run; no 0-byte cache "
     "left.")
    from Bio import bgzf
    text = DEMO_GENOME.read_bytes()[:400_000]
    plain = tmp_path / "cut.fa.gz"
    plain.write_bytes(gzip.compress(text)[:50_000])
    with pytest.raises(GenomeError, match="cut.fa.gz cannot be decompressed.*truncated or damaged.*gzip -t"):
        Genome(plain, cache_dir=tmp_path / "cache")
    assert not [p for p in (tmp_path / "cache").iterdir() if p.stat().st_size == 0]
    with bgzf.BgzfWriter(str(tmp_path / "whole.fa.gz"), "wb") as w: w.write(text)
    cut = tmp_path / "bgz.fa.gz"
    cut.write_bytes((tmp_path / "whole.fa.gz").read_bytes()[:60_000])
    with pytest.raises(GenomeError, match="truncated or damaged"):
        g = Genome(cut, cache_dir=tmp_path / "cache2"); g.fetch(g.chroms[0], 0, 1000)

def test_a_bad_character_stops_the_run_before_step_1_and_the_fix_lets_it_finish(tmp_path):
    ("An X that no window may ever cover is found before training; the run says it failed; X → N and the same "
     "command finishes.")
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 28_000))
    fa = tmp_path / "x.fa"
    fa.write_text(">c1\n" + "\n".join(seq[i:i + 60] for i in range(0, 27_000, 60)) + "\n>c2\n" + seq[27_000:27_500]
                  + "X" + seq[27_501:] + "\n")
    cfg = PretrainConfig(**{**TINY, "fasta": str(fa), "val_chroms": "c2", "steps": 3, "out": str(tmp_path / "run"),
                            "cache_dir": str(tmp_path / "cache")})
    with pytest.raises(GenomeError, match=r"1 character\(s\) outside the DNA alphabet.*"
                                          r"'X' in contig c2 at position 500 \(file line 453\)"):
        pretrain(cfg)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (info["state"] == "failed" and "outside the DNA alphabet" in info["error"]
            and not (tmp_path / "run" / "checkpoints").exists())
    fa.write_text(fa.read_text().replace("X", "N"))
    # the same command, after the fix the message names
    pretrain(cfg)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["state"] == "finished"

def test_resume_refuses_a_genome_edited_between_the_sampled_blocks(tmp_path):
    "The resume fingerprint covers every base: one base changed where no sampled block looks is caught."
    fa = tmp_path / "g.fa"
    shutil.copy(DEMO_GENOME, fa)
    cfg = PretrainConfig(**{**TINY, "fasta": str(fa), "steps": 4, "stop_after": 2, "out": str(tmp_path / "run"),
                            "cache_dir": str(tmp_path / "cache")})
    pretrain(cfg)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["resolved"]["data"]
    lines = fa.read_text().splitlines()
    i = next(k for k in range(len(lines) // 3, len(lines)) if not lines[k].startswith(">") and "A" in lines[k])
    # one base, far from the 16 sampled blocks' edges
    lines[i] = lines[i].replace("A", "C", 1)
    fa.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="whole_sha256 differ"):
        pretrain(PretrainConfig(**{**cfg.to_dict(), "resume": True}))
    assert "whole_sha256" in saved

@pytest.mark.skipif(os.geteuid() != 0,
                    reason="the case is about root, for whom os.access says every folder is writable")
def test_read_only_folders_stay_untouched_even_for_root(tmp_path):
    ("Runs and embeddings refuse a mode-555 folder; a stale .fai there is read around (a fresh one in the cache), "
     "not rewritten.")
    ro = tmp_path / "ro"; ro.mkdir()
    shutil.copy(DEMO_GENOME, ro / "g.fa")
    Genome(ro / "g.fa")                                                    # an index beside it, then the FASTA changes
    os.utime(ro / "g.fa.fai", (1, 1))                                       # ... so the index is stale
    fai = (ro / "g.fa.fai").read_bytes()
    ro.chmod(0o555)
    try:
        with pytest.raises(RunFolderError, match="read-only .no write permission bits."):
            pretrain(PretrainConfig(**TINY, steps=2, out=str(ro / "run")))
        with pytest.raises(RunFolderError, match="read-only"):
            finetune(**FT, data_dir=str(write_synthetic_data(tmp_path / "data")), out_dir=str(ro / "ft"))
        with pytest.raises(RunFolderError, match="read-only"):
            embed_fasta(EmbedConfig(fasta=str(DEMO_GENOME), out=str(ro / "x.npy")))
        g = Genome(ro / "g.fa", cache_dir=tmp_path / "cache")
        assert (g.fetch(g.chroms[0], 0, 10) and (ro / "g.fa.fai").read_bytes() == fai
                and (tmp_path / "cache" / "g.fa.fai").is_file())
        assert sorted(p.name for p in ro.iterdir()) == ["g.fa", "g.fa.fai"]
    finally: ro.chmod(0o755)

def test_an_output_path_under_a_file_is_named(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="notes.txt is a file, not a folder"):
        pretrain(PretrainConfig(**TINY, steps=2, out=str(tmp_path / "notes.txt" / "run")))

def test_window_errors_say_which_limit(tmp_path):
    ("A window longer than the network, or than the validation region, is named as such (not as a model-config "
     "question).")
    with pytest.raises(ConfigError,
                       match="window=200 is longer than the network's input \\(128 nt for preset 'tiny'\\)"):
        pretrain(PretrainConfig(**TINY, steps=2, window=200, out=str(tmp_path / "a")))
    rng = np.random.default_rng(0)
    (tmp_path / "g.fa").write_text(">c1\n" + "".join(rng.choice(list("ACGT"), 5000)) + "\n>c2\n" + "ACGT" * 25 + "\n")
    with pytest.raises(GenomeError, match="validation windows \\(validation contigs \\['c2'\\]\\).*--val-chroms"):
        pretrain(PretrainConfig(**{**TINY, "fasta": str(tmp_path / "g.fa"), "val_chroms": "c2"}, steps=2,
                                out=str(tmp_path / "b")))

KILL_FT_LATE = r'''
import sys, findna.finetuning as F
real, saved = F._save_state, []
def die_after_second_state(out, **state):
    real(out, **state); saved.append(state["step"])
    if len(saved) == 2: import os; os.kill(os.getpid(), 9)
F._save_state = die_after_second_state
F.finetune_cli(sys.argv[1:])
'''

def test_a_killed_finetuning_run_resumes_from_its_last_validation(tmp_path, data_root, dropout="0.2"):
    ("SIGKILL after the second validation: the same command continues from that step (with dropout: the same random "
     "draws).")
    args = ["--task", "prom_core_all", "--data-dir", str(data_root), "--preset", "tiny", "--epochs", "4",
            "--batch-size", "16", "--lr", "3e-3", "--precision", "fp32", "--threads", "1", "--mlp-dropout", dropout,
            "--layer-dropout", dropout, "--no-verbose"]
    done = subprocess.run([sys.executable, "-c", KILL_FT_LATE, *args, "--out-dir", str(tmp_path / "killed")],
                          capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL and (tmp_path / "killed" / "resume.pt").is_file()
    again = subprocess.run([sys.executable, "-m", "findna.finetuning", *args, "--out-dir", str(tmp_path / "killed")],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    whole = subprocess.run([sys.executable, "-m", "findna.finetuning", *args, "--out-dir", str(tmp_path / "whole")],
                           capture_output=True, text=True)
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("killed", "whole"))
    assert (any(n.startswith("resumed at step 16 ") for n in a["notes"])
            and not (tmp_path / "killed" / "resume.pt").exists())
    assert a["test"] == b["test"] and a["val"] == b["val"] and a["steps"] == b["steps"] and a["best"] == b["best"]
    assert ([r["mcc"] for r in read_metrics(tmp_path / "killed").to_dict("records")]
            == [r["mcc"] for r in read_metrics(tmp_path / "whole").to_dict("records")])

def test_a_truncated_gzip_fasta_to_embed_is_named(tmp_path):
    seq = "".join(np.random.default_rng(0).choice(list("ACGT"), 100_000)).encode()
    whole = gzip.compress(b">a\n" + seq + b"\n")
    (tmp_path / "t.fa.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(Exception, match="t.fa.gz cannot be decompressed.*truncated or damaged.*gzip -t"):
        embed_fasta(EmbedConfig(fasta=str(tmp_path / "t.fa.gz"), out=str(tmp_path / "t.npy")))
    assert not (tmp_path / "t.npy").exists()
