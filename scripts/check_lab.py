"""Run and save in JupyterLab, in a real browser: the check behind "a notebook run and saved in JupyterLab leaves
`CI=true make check-sync` passing" (issue 24).

On a COPY of the repository in a temporary folder (the real nbs/ is never saved to), committed there as a fresh git
repository, JupyterLab is started as `make lab` starts it (JUPYTER_CONFIG_DIR=.jupyter, the project's venv, a token,
a free port, --no-browser) and headless Chromium, driven by Playwright, does what a user does for each notebook:

1. open it and wait for its kernel: the tab must not be marked modified (nothing edited yet);
2. Run > Run All Cells, wait until every cell ran: no cell may show an error;
3. File > Save (Ctrl+S): the file on disk has no outputs and no execution counts (the save hook strips them).

Then `CI=true make check-sync` runs in the copy and must pass: the saved notebooks equal the committed ones. A
screenshot of each notebook after its run goes to --shots.

    .venv/bin/pip install playwright        # the Python package only; the browser is Debian's: apt-get install chromium
    .venv/bin/python scripts/check_lab.py [index.ipynb 00_alphabet.ipynb ...] [--shots DIR] [--chromium PATH]

Exit status 0 when every check holds; each failure is printed."""
import argparse, json, os, secrets, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", ".venv-docs", "runs", "results", "_site", "_docs_src", "_proc",
                                     "__pycache__", ".ipynb_checkpoints", "build", "*.egg-info", ".pytest_cache")
DEFAULT_NBS = ("index.ipynb", "00_alphabet.ipynb", "10_finetune.ipynb")

def sh(cmd, cwd, env=None, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, env=env, shell=isinstance(cmd, str), capture_output=True, text=True)
    if check and r.returncode: raise SystemExit(f"failed ({r.returncode}): {cmd}\n{r.stdout}\n{r.stderr}")
    return r

def venv_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env.update(PATH=f"{VENV / 'bin'}:{env.get('PATH', '')}", OMP_NUM_THREADS="1", **extra)
    return env

def make_copy(where:Path) -> Path:
    "The working tree (no runs, results, venvs) copied to `where`, cleaned, exported and committed as a new git repo."
    shutil.copytree(ROOT, where, ignore=COPY_IGNORE, symlinks=True)
    (where / ".venv").symlink_to(VENV)                  # `make` finds the project's venv; its stamp is not remade (-o)
    settings = where / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"   # this copy's JupyterLab settings only:
    for ext, value in (("notebook-extension/tracker", {"windowingMode": "none"}),     # every cell in the page, to check
                       ("apputils-extension/notification", {"fetchNews": "false"})):  # no news pop-up over the cells
        (settings / f"{ext}.jupyterlab-settings").parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{ext}.jupyterlab-settings").write_text(json.dumps(value))
    sh("nbdev_clean && nbdev_export", where, venv_env())   # the real tree may be mid-edit by others: start in sync
    for cmd in ("git init -q", "git add -A", "git -c user.name=check -c user.email=check@localhost commit -qm base"):
        sh(cmd, where)
    return where

def check_sync(where:Path) -> subprocess.CompletedProcess:
    return sh(["make", "--no-print-directory", "-o", ".venv/.findna-installed", "check-sync"], where,
              venv_env(CI="true"), check=False)

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

def start_lab(where:Path, log) -> tuple:
    "JupyterLab as `make lab` starts it, on a free port with a token; returns (process, base url, token)."
    port, token = free_port(), secrets.token_hex(16)
    cmd = [str(VENV / "bin" / "jupyter"), "lab", f"--ServerApp.root_dir={where}", f"--port={port}", "--no-browser",
           "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}"]
    if os.getuid() == 0: cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, cwd=where, env=venv_env(JUPYTER_CONFIG_DIR=str(where / ".jupyter")), stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2); return proc, base, token
        except OSError: time.sleep(0.5)
        if proc.poll() is not None: break
    proc.terminate(); raise SystemExit(f"JupyterLab did not start; see its log {log.name}")

def dirty(page) -> bool:
    "Is the current notebook's tab marked modified?"
    return page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count() > 0

def wait_idle(page, timeout_s:float):
    "Until the kernel is idle and no cell shows [*] (queued or running)."
    end = time.time() + timeout_s
    while time.time() < end:
        busy = page.locator(".jp-InputPrompt", has_text="[*]").count()
        status = page.locator(".jp-Notebook-ExecutionIndicator").first.get_attribute("data-status") \
            if page.locator(".jp-Notebook-ExecutionIndicator").count() else None
        if not busy and status == "idle": return
        time.sleep(1)
    raise TimeoutError(f"kernel still busy after {timeout_s:.0f} s")

def menu(page, top:str, item:str):
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel", has_text=item).first.click()

def run_and_save(page, base, token, where:Path, name:str, shots:Path, timeout_s:float) -> list:
    "Open, Run All, save one notebook; returns the failures found."
    problems, rel = [], f"nbs/{name}"
    page.goto(f"{base}/lab/tree/{rel}?reset&token={token}")                # reset: only this notebook open
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    page.wait_for_function("() => /\\| Idle/.test(document.querySelector('#jp-main-statusbar')?.textContent || '')",
                           timeout=120_000)                    # "Python 3 (ipykernel) | Idle": the kernel started
    time.sleep(3)                                                           # late metadata updates would show here
    if dirty(page): problems.append(f"{name}: marked modified right after opening (before any edit)")
    page.screenshot(path=str(shots / f"{Path(name).stem}-0-opened.png"))
    menu(page, "Run", "Run All Cells")
    time.sleep(2)
    wait_idle(page, timeout_s)
    n_run = page.evaluate(r"""() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                                 .filter(e => /\[\d+\]/.test(e.textContent)).length""")
    errors = page.evaluate(r"""() => [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type$="stderr"]')]
                                 .filter(e => /Traceback|\w+Error:/.test(e.textContent)).length""")  # not warnings
    page.screenshot(path=str(shots / f"{Path(name).stem}-1-ran.png"), full_page=True)
    if errors: problems.append(f"{name}: {errors} cell(s) show an error after Run All (see the screenshot)")
    if not dirty(page): problems.append(f"{name}: not marked modified after Run All (did anything run?)")
    page.keyboard.press("Control+s")
    for _ in range(60):
        if not dirty(page): break
        time.sleep(0.5)
    else: problems.append(f"{name}: still marked modified 30 s after Ctrl+S")
    time.sleep(1)
    nb = json.loads((where / rel).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    kept = [c.get("id") for c in code if c.get("outputs") or c.get("execution_count")]
    if kept: problems.append(f"{name}: saved with outputs or execution counts in cells {kept}")
    menu(page, "File", "Close and Shut Down Notebook")                     # frees the kernel for the next one
    page.locator(".jp-Dialog .jp-mod-accept").first.click(timeout=10_000)
    print(f"{name}: opened, {n_run} code cells ran, saved ({'ok' if not problems else 'PROBLEMS'})", flush=True)
    return problems

def main(argv=None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))                # stopped: JupyterLab still shut down
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", default=list(DEFAULT_NBS), help="names in nbs/ (default: %(default)s)")
    ap.add_argument("--shots", type=Path, default=Path(tempfile.gettempdir()) / "findna-check-lab", help="screenshots")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium", help="browser executable")
    ap.add_argument("--timeout", type=float, default=600, help="seconds one notebook's Run All may take")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy of the repository")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    args.shots.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="findna-check-lab-"))
    where, problems = make_copy(tmp / "findna"), []
    base_sync = check_sync(where)
    if base_sync.returncode:
        raise SystemExit(f"the copy is not in sync before JupyterLab touched it:\n{base_sync.stdout}")
    with open(tmp / "lab.log", "w") as log:
        proc, base, token = start_lab(where, log)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, headless=True)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                for name in args.notebooks:
                    try: problems += run_and_save(page, base, token, where, name, args.shots, args.timeout)
                    except Exception as e:
                        page.screenshot(path=str(args.shots / f"{Path(name).stem}-failed.png"))
                        problems.append(f"{name}: {type(e).__name__}: {e}")
                browser.close()
        finally:
            proc.terminate(); proc.wait(30)
    sync = check_sync(where)
    print(f"CI=true make check-sync after the saves: exit {sync.returncode}")
    if sync.returncode: problems.append("CI=true make check-sync fails after run and save:\n" + sync.stdout
                                        + sync.stderr
                                        + sh("git status --short; git diff --stat", where, check=False).stdout)
    print(f"screenshots: {args.shots}")
    if args.keep: print(f"copy kept: {where}")
    else: shutil.rmtree(tmp, ignore_errors=True)
    for p_ in problems: print("FAIL", p_)
    print("check_lab: " + ("all checks hold" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0

if __name__ == "__main__":
    sys.exit(main())
