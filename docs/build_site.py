"""Stage the documentation site for MkDocs (`make docs`): every notebook of nbs/ executed top to bottom with the
project's venv (so the figures are in the pages) — except the cells flagged `#|slow` or `#|cuda`, which `make test`
skips too (long runs, GPUs) and which are left out of the pages —, then made fit to read (`for_site`):

- nbdev's directive cells (`#|hide`, `#|default_exp`, the export call) dropped and `#|export` lines stripped;
- progress widgets dropped (they need a widget script from a CDN and are blank offline; the run's lines tell the same);
- warnings and other stderr output dropped (they belong to the machine that built the site);
- local paths in outputs replaced: the repository by `.`, its parent by `..`, the temporary folder by `$TMPDIR`,
  home by `~` (the text the authors wrote, markdown and code, is left as written);
- outputs longer than `MAX_LINES` lines cut, saying how many lines were left out (e.g. 06_trainer's `--help`);
- headings with nothing under them (the "Export" heading of each library notebook) dropped.

The method notes of docs/ are copied beside them; docs/mkdocs_hooks.py builds the navigation from nbs/.

    .venv/bin/python docs/build_site.py _docs_src     # then: .venv-docs/bin/mkdocs build
    .venv/bin/python docs/build_site.py _docs_src --executed /tmp/executed   # keep (and reuse) the executed notebooks

Why not nbdev's own site: it needs Quarto, whose PyPI wheel downloads binaries while installing (fails offline)."""
import argparse, os, re, shutil, sys, tempfile, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
DIRECTIVE_ONLY = ("#|hide", "#| hide", "#|default_exp", "#| default_exp")
SKIPPED = ("#|slow", "#| slow", "#|cuda", "#| cuda")
WIDGET = "application/vnd.jupyter.widget-view+json"
MAX_LINES = 40                     # longer text outputs are cut to their first KEEP_LINES lines
KEEP_LINES = 25

def _runnable(cell) -> bool: return not (cell.cell_type == "code" and cell.source.lstrip().startswith(SKIPPED))

def _keep(cell) -> bool:
    src = cell.source.lstrip()
    if cell.cell_type != "code": return True
    return not (src.startswith(DIRECTIVE_ONLY) or "nbdev.nbdev_export()" in src)

def _strip(cell):
    "A code cell without its nbdev directive lines (`#|export`, `#| eval: false`, ...)."
    if cell.cell_type == "code":
        cell.source = "\n".join(l for l in cell.source.splitlines() if not re.match(r"\s*#\s?\|", l)).strip("\n")
    return cell

def local_paths() -> list:
    "(path, shown as) pairs, most specific first: this machine's paths that a page must not show."
    pairs = [(str(ROOT), "."), (str(ROOT.parent), ".."), (tempfile.gettempdir(), "$TMPDIR"), ("/tmp", "$TMPDIR"),
             (str(Path.home()), "~")]
    seen, out = set(), []
    for p, shown in sorted(pairs, key=lambda x: -len(x[0])):
        if p not in seen and p not in ("/", ""): seen.add(p); out.append((p, shown))
    return out

def scrub(text:str, paths=None) -> str:
    "`text` with this machine's paths replaced (`local_paths`); a path is replaced only where it starts a path."
    for p, shown in paths or local_paths():
        text = re.sub(rf"(?<![\w.\-/~$]){re.escape(p)}(?![\w.\-])", lambda m: shown, text)
    return text

def cut(text:str, max_lines:int=MAX_LINES, keep:int=KEEP_LINES) -> str:
    "`text` cut to its first `keep` lines when longer than `max_lines`, saying how much was left out."
    lines = text.splitlines(keepends=True)
    if len(lines) <= max_lines: return text
    more = f"… ({len(lines) - keep} more lines, not shown here: run the cell to see them all)\n"
    return "".join(lines[:keep]) + more

def _clean_output(out, paths):
    "An output as a page shows it, or None to drop it."
    if out.output_type == "stream":
        if out.name == "stderr": return None                                # warnings, logging: this machine's business
        out.text = cut(scrub(out.text, paths))
        return out
    if out.output_type == "error": return out                               # kept, so that site checks can see it
    data = out.get("data", {})
    if WIDGET in data: return None                                           # a progress bar: blank without its script
    for mime in list(data):
        if isinstance(data[mime], str) and (mime.startswith("text/") or mime.endswith(("json", "javascript"))):
            data[mime] = scrub(data[mime], paths)
            if mime == "text/plain": data[mime] = cut(data[mime])
    return out

def _heading_level(cell) -> int:
    "The level of a markdown cell that is a single heading and nothing else, else 0."
    if cell.cell_type != "markdown": return 0
    m = re.fullmatch(r"(#{1,6})\s+\S.*", cell.source.strip())
    return len(m.group(1)) if m else 0

def _first_heading_level(cell) -> int:
    m = re.match(r"(#{1,6})\s", cell.source.lstrip()) if cell.cell_type == "markdown" else None
    return len(m.group(1)) if m else 0

def drop_empty_headings(cells:list) -> list:
    "`cells` without heading-only markdown cells with nothing under them before the next heading as high or higher."
    kept = []
    for i, cell in enumerate(cells):
        level = _heading_level(cell)
        if level:
            nxt = next((c for c in cells[i + 1:]), None)
            if nxt is None or 0 < _first_heading_level(nxt) <= level: continue
        kept.append(cell)
    return kept if len(kept) == len(cells) else drop_empty_headings(kept)

def for_site(nb):
    "An executed notebook made fit for a page: see the module's docstring."
    paths = local_paths()
    cells = []
    for cell in nb.cells:
        if not _keep(cell): continue
        cell = _strip(cell)
        if cell.cell_type == "code":
            if not cell.source.strip(): continue
            cell.outputs = [o for o in (_clean_output(o, paths) for o in cell.outputs) if o is not None]
        cells.append(cell)
    nb.cells = drop_empty_headings(cells)
    nb.metadata.pop("widgets", None)                                        # no widget state: no CDN script on the page
    return nb

def execute(path:Path, timeout:int=900):
    "The notebook at `path` executed, without its slow/cuda cells, in nbs/ as working directory."
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if _runnable(c)]
    resources = {"metadata": {"path": str(path.parent)}}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=resources)
    client.execute()
    return nb

def stage(out:Path, timeout:int=900, executed:Path|None=None) -> Path:
    """Execute and clean every notebook into `out`, copy the notes; returns `out`. With `executed`, executed notebooks
    are kept there and reused when newer than their source (for re-staging after a change to this file only)."""
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    if executed: executed.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "nbs").glob("*.ipynb")):
        tick, cached = time.time(), executed / path.name if executed else None
        if cached and cached.exists() and cached.stat().st_mtime > path.stat().st_mtime:
            nb, how = nbformat.read(cached, as_version=4), "reused"
        else:
            nb, how = execute(path, timeout), "executed"
            if cached: nbformat.write(nb, cached)
        nbformat.write(for_site(nb), out / path.name)
        print(f"{path.name}: {how} in {time.time() - tick:.0f} s", flush=True)
    shutil.copytree(ROOT / "docs", out / "notes", ignore=shutil.ignore_patterns("*.py", "*.js", "__pycache__"))
    shutil.copy(ROOT / "docs" / "offline.js", out / "offline.js")           # mkdocs.yml: extra_javascript
    return out

if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ap = argparse.ArgumentParser(description="Execute the notebooks of nbs/ and stage them for MkDocs.")
    ap.add_argument("out", nargs="?", type=Path, default=ROOT / "_docs_src")
    ap.add_argument("--executed", type=Path, help="keep the executed notebooks here and reuse those newer than nbs/")
    ap.add_argument("--timeout", type=int, default=900, help="seconds one cell may run")
    args = ap.parse_args()
    stage(args.out, args.timeout, args.executed)
