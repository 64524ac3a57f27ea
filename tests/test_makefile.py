"""`make demo` never deletes: it writes a new folder (runs/demo, runs/demo-2, ...) or, given an existing DEMO_OUT, lets
findna-pretrain refuse it (a finished or foreign folder is never adopted)."""
import os, shutil, subprocess
from conftest import ROOT

def dry_run(where, *args) -> str:
    shutil.copy(ROOT / "Makefile", where / "Makefile")
    (where / ".venv").mkdir(exist_ok=True)
    for f in ("requirements.txt", "setup.py", "settings.ini"): (where / f).touch()
    (where / ".venv" / ".findna-installed").touch()                      # the venv counts as installed
    # also under `make test`
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "DEMO_OUT"}
    return subprocess.run(["make", "--no-print-directory", "-n", "demo", *args], cwd=where, env=env,
                          capture_output=True, text=True, check=True).stdout

def test_demo_picks_a_new_folder_and_deletes_nothing(tmp_path):
    out = dry_run(tmp_path)
    assert "rm " not in out and "--out runs/demo\n" in out
    (tmp_path / "runs" / "demo").mkdir(parents=True)
    (tmp_path / "runs" / "demo-2").mkdir()
    out = dry_run(tmp_path)
    assert "rm " not in out and "--out runs/demo-3" in out and "runs/demo-3" in out.splitlines()[-1]
    # given: findna-pretrain decides (refuses a used one)
    assert "--out my/run" in dry_run(tmp_path, "DEMO_OUT=my/run")
