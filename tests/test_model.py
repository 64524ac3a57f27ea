"""Model-layer checks beyond the notebooks: configs, lengths,
checkpoints, the reference importer (against a re-implementation of the reference modules), embed, classifier."""
import math, warnings
import numpy as np, pytest, torch
import torch.nn as nn
from conftest import random_one_hot
from reference_swandna import RefModel4Pretrain
from findna.alphabet import ALPHABET, encode_batch, one_hot
from findna.chordmixer import ChordMixer, group_shifts, mixes_all_positions, rotate, rotation_index, _permute
from findna.model import (CheckpointError, FinDNA, FinDNAClassifier, FinDNAConfig, FinDNAError, FinDNAWarning,
                          checkpoint_metadata, embed, import_reference_checkpoint, make_teacher)



# ---------------------------------------------------------------------------------------------- model

def test_config_round_trip_and_presets():
    for name in ("paper", "small", "tiny"):
        c = FinDNAConfig.preset(name)
        assert FinDNAConfig.from_json(c.to_json()) == c
    small = FinDNA(FinDNAConfig.preset("small"))
    assert 1.3e6 < sum(p.numel() for p in small.backbone.parameters()) < 1.45e6
    assert FinDNAConfig.preset("tiny", head="dino", out_dim=64).out_dim == 64
    with pytest.raises(FinDNAError, match="out_dim must be 5"):
        FinDNAConfig(out_dim=64)


def test_lengths_give_the_row_alone_for_both_heads():
    for head in ("shared", "dino"):
        model = FinDNA(FinDNAConfig.preset("tiny", head=head, out_dim=None if head == "dino" else 5), seed=1).eval()
        idx, lengths = encode_batch(["ACGT" * 30, "GATTACA", "C" * 64, "ACGTN" * 9])
        x = one_hot(idx)
        x[1, 7:] = 1.0                                        # junk in the padding must not matter
        with torch.no_grad():
            out = model(x, torch.from_numpy(lengths))
            for b, n in enumerate(lengths.tolist()):
                alone = model(x[b:b + 1, :n])
                torch.testing.assert_close(out.mlm_logits[b, :n], alone.mlm_logits[0], rtol=1e-5, atol=1e-5)
                torch.testing.assert_close(out.cls_logits[b], alone.cls_logits[0], rtol=1e-5, atol=1e-5)
                torch.testing.assert_close(out.hidden[b, :n + 4], alone.hidden[0], rtol=1e-5, atol=1e-5)


def test_forward_refuses_too_long_input():
    model = FinDNA(FinDNAConfig.preset("tiny"))
    with pytest.raises(FinDNAError, match=r"FinDNAConfig\(max_len=129\)"):
        model(random_one_hot(1, 129, 0))


def test_teacher_is_a_frozen_copy():
    student = FinDNA(FinDNAConfig.preset("tiny"), seed=0)
    teacher = make_teacher(student)
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training
    with torch.no_grad(): student.embedding.weight.add_(1.0)
    assert not torch.equal(student.embedding.weight, teacher.embedding.weight)


# ---------------------------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("head", ["shared", "dino"])
def test_save_load_round_trip_is_identical(tmp_path, head):
    model = FinDNA(FinDNAConfig.preset("tiny", head=head), seed=2)
    model.save_pretrained(tmp_path / "ckpt", role="teacher")
    loaded = FinDNA.from_pretrained(tmp_path / "ckpt")
    x = random_one_hot(3, 50, 0)
    with torch.no_grad():
        a, b = model.eval()(x), loaded.eval()(x)
    assert torch.equal(a.mlm_logits, b.mlm_logits) and torch.equal(a.cls_logits, b.cls_logits)
    meta = checkpoint_metadata(tmp_path / "ckpt")
    assert meta["role"] == "teacher" and meta["alphabet"] == ALPHABET and meta["findna_version"]
    assert loaded.role == "teacher" and loaded.config == model.config


def test_loading_into_a_mismatched_config_names_the_fields(tmp_path):
    FinDNA(FinDNAConfig.preset("tiny")).save_pretrained(tmp_path / "ckpt")
    with pytest.raises(CheckpointError,
                       match=r"hidden_dim: checkpoint 64, expected 512.*n_blocks: checkpoint 1, expected 4"):
        FinDNA.from_pretrained(tmp_path / "ckpt", config=FinDNAConfig.preset("paper", max_len=128, n_cls=4))
    with pytest.raises(CheckpointError, match="no checkpoint directory"):
        FinDNA.from_pretrained(tmp_path / "missing")
    # tampered weights: a tensor removed is named
    from safetensors.torch import load_file, save_file
    state = load_file(tmp_path / "ckpt" / "model.safetensors")
    state.pop("mlm_head.bias")
    save_file(state, tmp_path / "ckpt" / "model.safetensors", metadata={"model_class": '"FinDNA"', "role": '"student"'})
    with pytest.raises(CheckpointError, match=r"mlm_head.bias: in config.json's network, not in the weights"):
        FinDNA.from_pretrained(tmp_path / "ckpt")


def test_classifier_round_trip_and_pretrained_init(tmp_path):
    teacher = make_teacher(FinDNA(FinDNAConfig.preset("tiny"), seed=0))
    teacher.save_pretrained(tmp_path / "teacher")
    clf = FinDNAClassifier.from_pretrained(tmp_path / "teacher", n_classes=3, max_len=80, seed=0)
    for k, v in teacher.backbone.state_dict().items(): assert torch.equal(clf.backbone.state_dict()[k], v)
    clf.save_pretrained(tmp_path / "best")
    again = FinDNAClassifier.from_pretrained(tmp_path / "best")
    x = random_one_hot(2, 80, 1)
    with torch.no_grad(): assert torch.equal(clf.eval()(x), again.eval()(x))
    assert again.init == clf.init and "layout=pretrained" in again.init
    with pytest.warns(FinDNAWarning) as record:
        FinDNAClassifier.from_pretrained(tmp_path / "teacher", n_classes=2, layout="task", max_len=1000)
    messages = " | ".join(str(r.message) for r in record)
    assert "2 of 10 layers start random" in messages and "does not connect all 1000 positions" in messages


# ---------------------------------------------------------------------------------------------- reference importer

@pytest.mark.parametrize("prenorm,norm", [("None", "None"), ("LN", "LN")])
def test_reference_importer_reproduces_the_reference_outputs(tmp_path, prenorm, norm):
    torch.manual_seed(0)
    L, n_cls = 100, 4
    ref_teacher, ref_student = (RefModel4Pretrain(L + n_cls, 3, 16, prenorm, norm, 2),
                                RefModel4Pretrain(L + n_cls, 3, 16, prenorm, norm, 2))
    with torch.no_grad():
        for p in ref_teacher.parameters(): p.add_(0.1 * torch.randn_like(p))          # LayerNorm weights != 1
    path = tmp_path / "model_29_1000_4l_308_512_noiseandTL.pt"
    torch.save({"Teacher": ref_teacher.state_dict(), "Student": ref_student.state_dict(), "EPOCHS_RUN": 29}, path)
    config = FinDNAConfig(max_len=L, n_cls=n_cls, track_size=3, hidden_dim=16, n_blocks=2, prenorm=prenorm == "LN")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ours = import_reference_checkpoint(path, "Teacher", config=config)
    assert (len(w) > 0) == (norm == "LN")                       # unused post-norm weights are reported
    to_ref = [ALPHABET.index(b) for b in "ACGNT"]                # reference channel j holds our channel to_ref[j]
    x = random_one_hot(3, L, 5)
    x_ref = torch.cat([x[..., to_ref], torch.zeros(3, n_cls, 5)], 1)      # reference order, CLS zeros appended
    with torch.no_grad():
        expected = ref_teacher(x_ref)                                     # (B, L + n_cls, 5), order A C G N T
        out = ours.eval()(x)
        got = torch.cat([out.mlm_logits, out.cls_logits], 1)[..., to_ref]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert ours.role == "teacher"
    # without a config, the shapes give the same architecture (max_len defaults to the reference's 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FinDNAWarning)
        inferred = import_reference_checkpoint(path, "Student")
    assert (inferred.config.embed_dim, inferred.config.n_layers, inferred.config.n_blocks, inferred.config.prenorm) == \
           (config.embed_dim, config.n_layers, config.n_blocks, config.prenorm)


# ---------------------------------------------------------------------------------------------- embed, classifier

def test_embed_alone_equals_batched_with_longer_sequences():
    model = FinDNA(FinDNAConfig.preset("small"), seed=0)
    rng = np.random.default_rng(0)
    target = "".join(rng.choice(list("ACGTN"), size=250))
    others = ["".join(rng.choice(list("ACGT"), size=n)) for n in (1000, 999, 513, 251, 17)]
    alone = embed(model, [target], precision="fp32", verbose=False)
    batched = embed(model, others + [target], batch_size=3, precision="fp32", verbose=False)
    np.testing.assert_allclose(batched[-1], alone[0], rtol=1e-5, atol=1e-5)
    cls_alone = embed(model, [target], pooling="cls", precision="fp32", verbose=False)
    cls_batched = embed(model, [target] + others, batch_size=6, pooling="cls", precision="fp32", verbose=False)
    np.testing.assert_allclose(cls_batched[0], cls_alone[0], rtol=1e-5, atol=1e-5)


def test_embed_many_sequences_from_fasta_gz(tmp_path):
    import gzip
    model = FinDNA(FinDNAConfig.preset("tiny"), seed=0)
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), size=int(n))) for n in rng.integers(1, 129, size=2000)]
    with gzip.open(tmp_path / "s.fa.gz", "wt") as f:
        for i, s in enumerate(seqs): f.write(f">s{i} description\n{s}\n")
    out = embed(model, tmp_path / "s.fa.gz", batch_size=256, precision="fp32", verbose=False)
    assert out.shape == (2000, 36) and out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(out[:5], embed(model, seqs[:5], precision="fp32", verbose=False), rtol=1e-5, atol=1e-5)


def test_classifier_mean_pooling_ignores_padding():
    clf = FinDNAClassifier(FinDNAConfig.preset("tiny"), n_classes=2, seed=0).eval()
    idx, lengths = encode_batch(["ACGTTGCA" * 10, "GGA", "ACGTTGCA" * 16])
    x = one_hot(idx)
    with torch.no_grad():
        logits = clf(x, torch.from_numpy(lengths))
        for b, n in enumerate(lengths.tolist()):
            torch.testing.assert_close(logits[b], clf(x[b:b + 1, :n])[0], rtol=1e-5, atol=1e-5)
        # the reference's pooling averages the padding too, and gives something else
        hidden = clf.encode(x, torch.from_numpy(lengths))
        assert not torch.allclose(clf.classifier(hidden[:, :x.shape[1]].mean(1))[1], logits[1], atol=1e-3)
