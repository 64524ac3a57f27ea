# JupyterLab started by `make lab` reads this folder (JUPYTER_CONFIG_DIR=.jupyter): nbdev cleans every notebook as it is
# saved (settings.ini: jupyter_hooks = True), so opening and saving a notebook never breaks `make test`'s clean/sync check.
def nbdev_clean_jupyter(**kwargs):
    try: from nbdev.clean import clean_jupyter
    except ModuleNotFoundError: return
    clean_jupyter(**kwargs)

c.ContentsManager.pre_save_hook = nbdev_clean_jupyter
