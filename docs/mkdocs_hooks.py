"""MkDocs hook (mkdocs.yml: hooks): the navigation, built from nbs/ and docs/ so that a new notebook or note is never
missing from it: Home (index), the library notebooks (those with `#|default_exp`), the run notebooks (the others) and
the notes of docs/ (README first)."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _title(path:Path) -> str:
    "A notebook's first `# heading`, else its file name."
    for cell in json.loads(path.read_text())["cells"]:
        src = "".join(cell["source"]).lstrip()
        if cell["cell_type"] == "markdown" and src.startswith("# "): return src.splitlines()[0][2:].strip()
    return path.stem

def _is_library(path:Path) -> bool:
    cells = json.loads(path.read_text())["cells"]
    starts = lambda c: "".join(c["source"]).lstrip().startswith(("#|default_exp", "#| default_exp"))
    return any(c["cell_type"] == "code" and starts(c) for c in cells)

def navigation() -> list:
    "The site's nav: Home, library notebooks, run notebooks, notes (names as in the staged docs folder)."
    nbs = [p for p in sorted((ROOT / "nbs").glob("*.ipynb")) if p.name != "index.ipynb"]
    entry = lambda p: {f"{p.stem.split('_')[0]} {_title(p)}": p.name}
    notes = sorted((ROOT / "docs").glob("*.md"), key=lambda p: (p.name != "README.md", p.name))
    return [{"Home": "index.ipynb"},
            {"Library notebooks": [entry(p) for p in nbs if _is_library(p)]},
            {"Run notebooks": [entry(p) for p in nbs if not _is_library(p)]},
            {"Notes": [f"notes/{p.name}" for p in notes]}]

def on_config(config, **kwargs):
    if not config.get("nav"): config["nav"] = navigation()
    return config

