"""Run and save stays clean, without a browser: the hooks of .jupyter/jupyter_server_config.py (what `make lab` loads)
applied as JupyterLab applies them — a notebook of nbs/ opened, run (outputs, execution counts, the kernel's metadata)
and saved comes back byte-for-byte what `make check-sync` wants; scripts/check_lab.py does the same in a real browser.
Also the documentation builder's page clean-up (docs/build_site.py) on small notebooks, no execution."""
import asyncio, copy, importlib.util, json, sys
from pathlib import Path
import pytest
from conftest import ROOT

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("jupyter_server")

def lab_config():
    "The traitlets config that .jupyter/jupyter_server_config.py builds, as JupyterLab loads it."
    from traitlets.config import Config
    c, path = Config(), ROOT / ".jupyter" / "jupyter_server_config.py"
    ns = dict(c=c, get_config=lambda: c, __file__=str(path))
    exec(compile(path.read_text(), str(path), "exec"), ns)
    return c, ns

def run_in_lab(nb:dict) -> dict:
    "What Run All does to a notebook's JSON in JupyterLab: outputs, execution counts, kernel metadata, cell metadata."
    nb = copy.deepcopy(nb)
    nb["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.7", "file_extension": ".py"}
    for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        cell["execution_count"], cell["metadata"]["execution"] = i + 1, {"iopub.status.busy": "2026-12-05T02:00:00Z"}
        cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": ["run folder: /tmp/findna-ft-x\n"]},
                           {"data": {"text/plain": ["42"]}, "execution_count": i + 1, "metadata": {},
                            "output_type": "execute_result"}]
    return nb

class FakeManager:
    "The hook's view of the contents manager: where the served folder is."
    def __init__(self, root:Path): self.root_dir = str(root)

def save_hook_text(nb:dict, rel:str, root:Path=ROOT) -> str:
    "The notebook text the server writes for `nb` saved at `rel` (pre-save hook, then nbformat's writer, as on save)."
    c, _ = lab_config()
    model = {"type": "notebook", "content": nbformat.from_dict(copy.deepcopy(nb))}
    c.ContentsManager.pre_save_hook(model=model, path=rel, contents_manager=FakeManager(root))
    return nbformat.writes(model["content"], version=nbformat.NO_CONVERT)

@pytest.mark.parametrize("name", ["index.ipynb", "10_finetune.ipynb"])
def test_run_all_then_save_gives_back_the_committed_notebook(name):
    text = (ROOT / "nbs" / name).read_text()
    saved = save_hook_text(run_in_lab(json.loads(text)), f"/nbs/{name}")   # API paths start with /
    assert json.loads(saved) == json.loads(text)          # no outputs, counts, kernel or cell metadata: nothing to diff
    assert saved.rstrip("\n") == text.rstrip("\n")        # and the same bytes (indentation, key order, line splits)

def test_notebooks_outside_nbs_keep_their_outputs(tmp_path):
    nb = run_in_lab(json.loads((ROOT / "nbs" / "index.ipynb").read_text()))
    saved = json.loads(save_hook_text(nb, "runs/ft.ipynb"))        # e.g. a papermill output: the record of a run
    code = [c for c in saved["cells"] if c["cell_type"] == "code"]
    assert code and all(len(c["outputs"]) == 2 for c in code)             # (execution counts: nbdev's clean drops them)
    assert "language_info" not in saved["metadata"]                       # nbdev's clean, as before
    assert all("execution" not in c["metadata"] for c in code)
    outside = json.loads(save_hook_text(nb, "x.ipynb", root=tmp_path))   # no nbdev project at all: saved as it is
    assert outside["metadata"]["language_info"]
    assert all(c["outputs"] for c in outside["cells"] if c["cell_type"] == "code")

def test_opening_marks_nothing_modified_and_saving_restores_the_file():
    "JupyterLab marks a notebook modified when the kernel's metadata differ from the file's: filled in on read."
    c, ns = lab_config()
    manager = c.ServerApp.contents_manager_class(root_dir=str(ROOT))
    model = asyncio.run(manager.get("/nbs/index.ipynb"))               # as JupyterLab asks for it
    from jupyter_client.kernelspec import KernelSpecManager
    from ipykernel.ipkernel import IPythonKernel
    meta = model["content"]["metadata"]
    assert meta["kernelspec"]["display_name"] == KernelSpecManager().get_kernel_spec("python3").display_name
    assert meta["language_info"] == IPythonKernel.language_info           # exactly what the kernel will report
    c.ContentsManager.pre_save_hook(model=model, path="nbs/index.ipynb", contents_manager=manager)
    assert json.loads(nbformat.writes(model["content"])) == json.loads((ROOT / "nbs" / "index.ipynb").read_text())

# ------------------------------------------------------------------------------ the site builder's page clean-up
def load(name:str):
    "A module of docs/ (not a package): build_site or mkdocs_hooks."
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def test_pages_drop_widgets_warnings_local_paths_long_outputs_and_empty_headings():
    bs = load("build_site")
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
    tmp = bs.tempfile.gettempdir()
    help_text = "".join(f"  --flag-{i}  what flag {i} does\n" for i in range(300))
    nb = new_notebook(metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {}}}, cells=[
        new_markdown_cell("# Title"), new_code_cell("#|default_exp x"), new_markdown_cell("## Section"),
        new_code_cell("#|export\ndef f(): pass\nf()", outputs=[
            new_output("display_data", data={bs.WIDGET: {"model_id": "m"}, "text/plain": "  0%|  | 0/4"}),
            new_output("stream", name="stderr", text=f"{bs.ROOT}/findna/model.py:302: FinDNAWarning: x\n"),
            new_output("stream", name="stdout", text=f"run folder: {tmp}/findna-ft-abc/run data {bs.ROOT.parent}/sh\n"),
            new_output("execute_result", data={"text/plain": help_text, "text/html": f"<td>{bs.ROOT}/runs/a</td>"})]),
        new_code_cell("#|hide\nassert True"), new_markdown_cell("## Export"),
        new_code_cell("import nbdev; nbdev.nbdev_export()")])
    page = bs.for_site(nb)
    assert [c.cell_type for c in page.cells] == ["markdown", "markdown", "code"]     # Export heading, directives gone
    assert "widgets" not in page.metadata and page.cells[2].source == "def f(): pass\nf()"
    outs = page.cells[2].outputs
    assert [o.output_type for o in outs] == ["stream", "execute_result"]             # no widget, no warning
    spellings = {"run folder: $TMPDIR/findna-ft-abc/run data ../sh\n"}
    if Path(tmp).resolve() == bs.ROOT.parent.resolve():                               # a clone inside the temp dir
        spellings.add("run folder: ../findna-ft-abc/run data ../sh\n")
    assert outs[0].text in spellings
    assert outs[1].data["text/html"] == "<td>./runs/a</td>"
    shown = outs[1].data["text/plain"].splitlines()
    assert len(shown) == bs.KEEP_LINES + 1 and shown[-1].startswith(f"… ({300 - bs.KEEP_LINES} more lines")

def test_scrub_replaces_whole_paths_only():
    bs = load("build_site")
    paths = [("/work/main", "."), ("/work", ".."), ("/tmp", "$TMPDIR")]
    assert bs.scrub("/work/main/x /work/mainframe /work/shared /tmp/a a/tmp/b", paths) == \
        "./x ../mainframe ../shared $TMPDIR/a a/tmp/b"          # /work/mainframe is not under /work/main

def test_the_navigation_lists_every_notebook_and_note():
    nav = load("mkdocs_hooks").navigation()
    def flat(items):
        for i in items:
            v = list(i.values())[0] if isinstance(i, dict) else i
            yield from flat(v) if isinstance(v, list) else [v]
    pages = list(flat(nav))
    assert sorted(p for p in pages if p.endswith(".ipynb")) == sorted(p.name for p in (ROOT / "nbs").glob("*.ipynb"))
    notes = sorted(f"notes/{p.name}" for p in (ROOT / "docs").glob("*.md"))
    assert sorted(p for p in pages if p.startswith("notes/")) == notes
    assert pages[0] == "index.ipynb"
    assert [list(i)[0] for i in nav] == ["Home", "Library notebooks", "Run notebooks", "Notes"]
