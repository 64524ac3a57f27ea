"""Stage the documentation site for MkDocs (`make docs`): every notebook of nbs/ executed top to bottom with the
project's venv (so the figures are in the pages) — except the cells flagged `#|slow` or `#|cuda`, which `make test`
skips too (long runs, GPUs) and which are left out of the pages —, nbdev's directive cells (`#|hide`, `#|default_exp`, the export
call) dropped and `#|export` lines stripped, and the method notes of docs/ beside them.

    .venv/bin/python docs/build_site.py _docs_src     # then: .venv-docs/bin/mkdocs build

Why not nbdev's own site: it needs Quarto, whose PyPI wheel downloads binaries while installing (fails offline)."""
import os, shutil, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
DIRECTIVE_ONLY = ("#|hide", "#| hide", "#|default_exp", "#| default_exp")

SKIPPED = ("#|slow", "#| slow", "#|cuda", "#| cuda")

def _runnable(cell) -> bool: return not (cell.cell_type == "code" and cell.source.lstrip().startswith(SKIPPED))

def _keep(cell) -> bool:
    src = cell.source.lstrip()
    if cell.cell_type != "code": return True
    return not (src.startswith(DIRECTIVE_ONLY) or "nbdev.nbdev_export()" in src)

def _strip(cell):
    if cell.cell_type == "code":
        cell.source = "\n".join(l for l in cell.source.splitlines() if not l.strip().startswith(("#|export", "#| export")))
    return cell

def stage(out:Path, timeout:int=900) -> Path:
    "Execute and clean every notebook into `out`, copy the notes; returns `out`."
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    for path in sorted((ROOT / "nbs").glob("*.ipynb")):
        tick, nb = time.time(), nbformat.read(path, as_version=4)
        nb.cells = [c for c in nb.cells if _runnable(c)]
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        nb.cells = [_strip(c) for c in nb.cells if _keep(c)]
        nbformat.write(nb, out / path.name)
        print(f"{path.name}: executed in {time.time() - tick:.0f} s", flush=True)
    shutil.copytree(ROOT / "docs", out / "notes", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return out

if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    stage(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "_docs_src"))
