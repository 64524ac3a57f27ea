"""Run every findna benchmark in turn, each in its own process, printing its table (`make bench`).

    python bench/run_all.py [--quick]

The machines are noisy: every benchmark measures its comparisons side by side in one run and prints ratios.
Run this on an otherwise idle machine and quote the configuration lines each script prints.
"""
import subprocess, sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {"bench_data.py": [], "bench_model.py": [], "bench_pretrain.py": [], "bench_finetune.py": []}
QUICK = {"bench_data.py": ["--repeats", "2", "--presets", "small"], "bench_model.py": ["--quick"],
         "bench_pretrain.py": ["--presets", "small", "--precisions", "fp32", "--steps", "2"],
         "bench_finetune.py": ["--batches", "128", "--steps", "2"]}

def main():
    quick = "--quick" in sys.argv[1:]
    for name, args in BENCHES.items():
        print(f"\n=== {name} {' '.join(QUICK[name] if quick else args)}", flush=True)
        subprocess.run([sys.executable, str(HERE / name), *(QUICK[name] if quick else args)], check=True)

if __name__ == "__main__":
    main()
