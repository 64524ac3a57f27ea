"Genome and WindowSampler: file formats, bad inputs, stream properties, and the real chr20 (when present)."
import gzip
import numpy as np, pandas as pd, pytest, scipy.stats, torch
from Bio import bgzf
from conftest import DEMO_GENOME, shared_data
from findna.alphabet import N_INDEX, decode
from findna.genome import (Genome, GenomeError, WindowSampler, read_bed, split_chroms, split_regions)

def write_fasta(path, records, width=60):
    with open(path, "w") as f:
        for name, seq in records.items():
            f.write(f">{name}\n" + "".join(seq[i:i + width] + "\n" for i in range(0, len(seq), width)))
    return path

def random_seq(n, rng, n_frac=0.0):
    s = rng.choice(list("ACGT"), n)
    s[rng.random(n) < n_frac] = "N"
    return "".join(s)

@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("toy")
    recs = {"chr1": random_seq(30_000, rng), "chr2": random_seq(60_000, rng),
            "chr3": "N" * 5_000 + random_seq(20_000, rng) + "N" * 5_000, "chr10": random_seq(40_000, rng)}
    return Genome(write_fasta(d / "toy.fa", recs)), recs

# --- formats and bad inputs ------------------------------------------------------------------------

def test_bgzip_fasta_reads_like_plain(tmp_path, toy):
    genome, recs = toy
    text = "".join(f">{k}\n" + "".join(v[i:i + 60] + "\n" for i in range(0, len(v), 60)) for k, v in recs.items())
    with bgzf.BgzfWriter(tmp_path / "toy.fa.gz", "wb") as f: f.write(text.encode())
    bg = Genome(tmp_path / "toy.fa.gz")
    assert bg.lengths == genome.lengths
    assert bg.fetch("chr2", 12_345, 13_000) == recs["chr2"][12_345:13_000]

@pytest.mark.parametrize("content, message", [
    (None, "not found"), ("", "empty"), (">chr1\n", "no sequence"), (">chr1\nACGT\n>chr2\n\n", "no sequence")])
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "g.fa"
    if content is not None: path.write_text(content)
    with pytest.raises(GenomeError, match=message): Genome(path)

def test_plain_gzip_is_refused_with_a_fix_or_decompressed_once(tmp_path):
    with gzip.open(tmp_path / "g.fa.gz", "wt") as f: f.write(">chr1\n" + "ACGT" * 100 + "\n")
    with pytest.raises(GenomeError, match="plain gzip.*cache_dir.*gunzip"): Genome(tmp_path / "g.fa.gz")
    g = Genome(tmp_path / "g.fa.gz", cache_dir=tmp_path / "cache")
    copy = tmp_path / "cache" / "g.fa"
    assert g.fetch("chr1", 0, 8) == "ACGTACGT" and copy.exists()
    mtime = copy.stat().st_mtime_ns
    Genome(tmp_path / "g.fa.gz", cache_dir=tmp_path / "cache")         # reused, not rewritten
    assert copy.stat().st_mtime_ns == mtime

def test_non_dna_character_names_contig_position_and_line(tmp_path):
    g = Genome(write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 30, "chr2": "A" * 100 + "Q" + "A" * 99}))
    with pytest.raises(GenomeError, match=r"'Q' in contig chr2 at position 100 \(0-based; file line 6\)"):
        g.encoded("chr2", 50, 150)

def test_window_longer_than_every_chromosome(toy):
    with pytest.raises(GenomeError, match="longer than every"): WindowSampler(toy[0], 100_000)

def test_all_n_contig_gives_up_with_a_clear_error(tmp_path):
    g = Genome(write_fasta(tmp_path / "g.fa", {"chr1": "N" * 10_000}))
    with pytest.raises(GenomeError, match="raise max_n_frac"): WindowSampler(g, 500, max_tries=20).batch(0, 2)

def test_bed_errors_name_the_line(tmp_path, toy):
    (tmp_path / "a.bed").write_text("chr1\t10\t5000\nchr2\tx\t10\n")
    with pytest.raises(GenomeError, match="line 2"): read_bed(tmp_path / "a.bed")
    (tmp_path / "b.bed").write_text("chr1\t10\t5000\nchr9\t0\t10\n")
    with pytest.raises(GenomeError, match="line 2: contig 'chr9'"): read_bed(tmp_path / "b.bed", toy[0])

# --- stream properties --------------------------------------------------------------------------

def test_windows_match_the_genome_and_respect_max_n_frac(toy):
    genome, recs = toy
    s = WindowSampler(genome, 1000, max_n_frac=0.1, seed=1)
    w = s.sample_windows(500, s.rng(step=0))
    assert ((w.seqs == N_INDEX).mean(1) <= 0.1).all()
    assert s.rejected > 0                                   # chr3's N flanks were drawn and refused
    for i in range(0, 500, 50):
        assert decode(w.seqs[i]) == recs[w.chrom[i]][w.start[i]:w.start[i] + 1000]

def test_validation_chromosomes_never_in_training_stream(toy):
    train, val = split_chroms(toy[0])                       # default: chr10 held out
    assert val == ["chr10"] and "chr10" not in train
    s = WindowSampler(toy[0], 500, chroms=train, seed=0)
    assert "chr10" not in set(s.sample_windows(2000, s.rng(step=0)).chrom)

def test_region_split_never_overlaps(toy):
    train_iv, val_iv = split_regions(toy[0], val_fraction=0.2)
    s = WindowSampler(toy[0], 500, intervals=train_iv, max_n_frac=1.0, seed=0)
    w = s.sample_windows(3000, s.rng(step=0))
    cut = dict(zip(val_iv.chrom, val_iv.start))
    assert all(st + 500 <= cut[c] for c, st in zip(w.chrom, w.start))

def test_chromosome_frequencies_follow_lengths(toy):
    genome = toy[0]
    s = WindowSampler(genome, 1000, max_n_frac=1.0, seed=0)
    w = s.sample_windows(20_000, s.rng(step=0))
    counts = pd.Series(w.chrom).value_counts().reindex(genome.chroms).to_numpy()
    starts = np.array([genome.lengths[c] - 999 for c in genome.chroms])
    assert scipy.stats.chisquare(counts, 20_000 * starts / starts.sum()).pvalue > 1e-3
    uniform = np.full(len(starts), 20_000 / len(starts))    # the reference's uniform choice is rejected
    assert scipy.stats.chisquare(counts, uniform).pvalue < 1e-6

def test_streams_reproducible_and_distinct_per_rank_worker_and_step(toy):
    genome = toy[0]
    a, again = (WindowSampler(genome, 300, seed=5) for _ in range(2))
    assert torch.equal(a.batch(3, 16), again.batch(3, 16))
    assert not torch.equal(a.batch(3, 16), a.batch(4, 16))
    assert not torch.equal(a.batch(3, 16), WindowSampler(genome, 300, seed=5, rank=1).batch(3, 16))
    assert not torch.equal(a.batch(3, 16), WindowSampler(genome, 300, seed=6).batch(3, 16))
    w0 = a.sample_windows(16, a.rng(worker=0)).seqs
    assert np.array_equal(w0, again.sample_windows(16, again.rng(worker=0)).seqs)
    assert not np.array_equal(w0, a.sample_windows(16, a.rng(worker=1)).seqs)

def test_dataloader_workers_split_steps_in_order(toy):
    s = WindowSampler(toy[0], 200, seed=0, batch_size=4, start_step=10)
    loader = torch.utils.data.DataLoader(s, batch_size=None, num_workers=2)
    got = [x for _, x in zip(range(4), loader)]
    for i, x in enumerate(got): assert torch.equal(x, s.batch(10 + i))

def test_dataloader_single_window_streams_differ_per_worker(toy):
    s = WindowSampler(toy[0], 200, seed=0)
    loader = torch.utils.data.DataLoader(s, batch_size=8, num_workers=2)
    b0, b1 = [x for _, x in zip(range(2), loader)]         # batch 0 from worker 0, batch 1 from worker 1
    assert not torch.equal(b0, b1)
    ref0 = torch.from_numpy(s.sample_windows(256, s.rng(worker=0)).seqs[:8])
    assert torch.equal(b0, ref0)

def test_demo_genome_ships_with_its_index():
    assert DEMO_GENOME.with_suffix(".fa.fai").exists()
    g = Genome(DEMO_GENOME)
    assert g.lengths == {"chr20_a": 1_500_000, "chr20_b": 500_000}

# --- the real chr20 -----------------------------------------------------------------------------

def test_real_chr20_sampler(tmp_path):
    path = shared_data("genomes", "human_chr20_GRCh37.fa.gz")
    g = Genome(path, cache_dir=tmp_path)                    # indexes go to tmp, never beside the shared file
    assert g.lengths == {"20": 63_025_520}
    assert not path.with_name(path.name + ".fai").exists()    # the shared folder is left untouched
    train_iv, val_iv = split_regions(g, val_fraction=0.05)
    s = WindowSampler(g, 1000, intervals=train_iv, seed=0)
    w = s.sample_windows(2000, s.rng(step=0))
    assert (w.seqs != N_INDEX).all()                        # max_n_frac = 0 on a chromosome with 3.5 Mbp of N
    assert (w.start + 1000 <= val_iv.start.iloc[0]).all()
    # about 5.6% of chr20 is N (and windows touching a gap are refused too): some draws were redrawn
    assert 0 < s.rejected < 0.2 * 2000
    n_total = sum((g.encoded("20", i, min(i + 5_000_000, 63_025_520)) == N_INDEX).sum()
                  for i in range(0, 63_025_520, 5_000_000))
    assert n_total == 3_520_000
