# JupyterLab started by `make lab` reads this folder (JUPYTER_CONFIG_DIR=.jupyter). The rule it keeps: the notebooks of
# nbs/ are committed without outputs (the documentation site, `make docs`, shows them executed), so
#  - saving one of them stores it as `make check-sync` wants it: nbdev's clean (settings.ini: jupyter_hooks = True), and
#    outputs and execution counts dropped; they stay on screen until the notebook is closed. Run All, save: `git diff`
#    shows nothing and `CI=true make test` passes. Notebooks elsewhere (runs/, a papermill output) keep their outputs;
#  - opening one does not mark it modified: the kernel's description (kernelspec display name, language_info), which
#    JupyterLab writes into a notebook as its kernel starts, is filled in as the notebook is read, and stripped on save.
# scripts/check_lab.py checks both in a real browser; tests/test_docs.py checks the hooks without one.
from pathlib import Path

def _nbdev_project(os_path:Path):
    "nbdev's settings for the notebook at `os_path` when its project has jupyter_hooks on, else None."
    try:
        from fastcore.foundation import Config
        from nbdev.config import _apply_defaults, _types
    except ModuleNotFoundError: return None
    # the settings.ini above the notebook (nbdev's get_config would search from the server's working directory)
    cfg = Config.find("settings.ini", os_path.parent, types=_types)
    if cfg is None: return None
    cfg = _apply_defaults(cfg)
    return cfg if cfg.get("jupyter_hooks", False) else None

def _in_nbs(os_path:Path, cfg) -> bool: return os_path.resolve().is_relative_to(cfg.path("nbs_path").resolve())

def findna_clean_on_save(model:dict, path:str, contents_manager=None, **kwargs):
    "Pre-save hook: nbdev's clean; a notebook of nbs/ also loses its outputs and execution counts."
    if model.get("type") != "notebook" or model.get("content", {}).get("nbformat") != 4: return
    os_path = Path(contents_manager.root_dir if contents_manager is not None else ".") / path.strip("/")
    if (cfg := _nbdev_project(os_path)) is None: return
    from nbdev.clean import clean_nb                  # nbdev's clean_jupyter minus its trust step (the server signs)
    nb = model["content"]
    clean_nb(nb, cfg.clear_all, cfg.get("allowed_metadata_keys").split(), cfg.get("allowed_cell_metadata_keys").split(),
             cfg.clean_ids)
    if _in_nbs(os_path, cfg):
        for cell in nb["cells"]:
            if cell.get("cell_type") == "code": cell["outputs"], cell["execution_count"] = [], None

def kernel_description(name:str):
    "(kernelspec, language_info) as JupyterLab will write them once kernel `name` starts, or None if unknown here."
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        spec = KernelSpecManager().get_kernel_spec(name)
        if spec.language != "python" or Path(spec.argv[0]).name not in ("python", "python3"): return None
        from ipykernel.ipkernel import IPythonKernel                           # the kernel runs this venv's python
        kernelspec = dict(name=name, display_name=spec.display_name, language=spec.language)
        return kernelspec, dict(IPythonKernel.language_info)
    except Exception: return None

def fill_kernel_metadata(nb:dict, os_path:Path):
    "A notebook of an nbdev project opens with the kernel's description already in its metadata (nothing to change)."
    meta = nb.get("metadata", {})
    name = meta.get("kernelspec", {}).get("name")
    if not name or "language_info" in meta or _nbdev_project(os_path) is None: return
    if (desc := kernel_description(name)) is not None: meta["kernelspec"], meta["language_info"] = desc

try:
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

    class FindnaContentsManager(AsyncLargeFileManager):
        "JupyterLab's default contents manager; notebooks are read with the kernel's description filled in."
        async def get(self, path, content=True, type=None, format=None, **kwargs):
            model = await super().get(path, content=content, type=type, format=format, **kwargs)
            if content and model.get("type") == "notebook" and model.get("content"):
                os_path = Path(self.root_dir) / path.strip("/")                # the API's path: "/nbs/x.ipynb"
                try: fill_kernel_metadata(model["content"], os_path)
                except Exception: self.log.warning("findna: kernel metadata not filled in for %s", path, exc_info=True)
            return model

    c.ServerApp.contents_manager_class = FindnaContentsManager
except ImportError: pass                                                    # another server: only the save hook

c.ContentsManager.pre_save_hook = findna_clean_on_save
