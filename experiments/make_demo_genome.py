"""Rebuild `data/demo_chr20.fa` (+ `.fai`) from the Debian `vt-examples` file `examples/ref/20.fa.gz`.

    apt-get download vt-examples && dpkg-deb -x vt-examples_*.deb vt   # or use ../shared/data/genomes/
    python experiments/make_demo_genome.py vt/usr/share/doc/vt-examples/examples/ref/20.fa.gz   # path varies by release

The source is human chromosome 20 of GRCh37 (one record named `20`, plain gzip). We keep two slices
(0-based, half-open coordinates on that record) as two records, so the demo genome can show a split by
contig as well as N handling (the first slice starts with the 60 kb telomere gap).
"""
import gzip, hashlib, sys
from pathlib import Path

SLICES = {"chr20_a": (0, 1_500_000), "chr20_b": (34_500_000, 35_000_000)}  # name -> (start, end) on record "20"
WIDTH = 60

def main(src: str, out: str = str(Path(__file__).resolve().parents[1] / "data" / "demo_chr20.fa")):
    print("source sha256", hashlib.sha256(Path(src).read_bytes()).hexdigest())
    with gzip.open(src, "rt") as f:
        header = f.readline()
        if header.split()[0] != ">20": raise ValueError(f"{src}: expected a record named 20, got {header!r}")
        seq = "".join(line.strip() for line in f)
    with open(out, "w") as f:
        for name, (start, end) in SLICES.items():
            part = seq[start:end]
            f.write(f">{name} GRCh37 chr20:{start + 1}-{end} (1-based, inclusive)\n")
            f.writelines(part[i:i + WIDTH] + "\n" for i in range(0, len(part), WIDTH))
    import pyfaidx
    pyfaidx.Faidx(out)  # writes out + ".fai"
    print("wrote", out, "sha256", hashlib.sha256(Path(out).read_bytes()).hexdigest())

if __name__ == "__main__":
    main(*sys.argv[1:])
