"""The documentation site as a reader gets it: `_site/index.html` opened as a FILE in a real browser (headless Chromium,
driven by Playwright), every page of the navigation visited. Checked on every page:

- every navigation link points at a file of the site (not a folder, which a browser shows as a directory listing);
- the page text shows no local path (/tmp/, /work/, /root/, /home/) and no Traceback;
- no heading without anything under it; no text output taller than MAX_OUTPUT_PX (a whole `--help`);
- nothing is loaded from the web (scripts, styles, fonts): the site works offline; no blank widget placeholders;
- the run notebooks (built with their defaults, i.e. smoke tests) say "smoke test" on their page.

A screenshot of the top of each page goes to --shots (look at them).

    make docs && make check-browser                       # or:
    .venv-docs/bin/python scripts/check_site.py [_site] [--shots DIR] [--chromium PATH]

Exit status 0 when every check holds; each failure is printed."""
import argparse, re, shutil, sys, tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parents[1]
LOCAL = re.compile(r"(?<![\w.])(/tmp/|/work/|/root/|/home/|/private/var/|Traceback \(most recent call last\))")
MAX_OUTPUT_PX = 2000

EMPTY_HEADINGS = r"""() => {
  const article = document.querySelector('.md-content article') || document.body;
  const hs = [...article.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(h => h.offsetParent !== null);
  const empty = [];
  hs.forEach((h, i) => {
    const level = +h.tagName[1];
    const next = hs.slice(i + 1).find(n => +n.tagName[1] <= level) || null;
    const r = document.createRange();
    r.setStartAfter(h);
    if (next) r.setEndBefore(next); else r.setEndAfter(article.lastChild);
    const frag = r.cloneContents();
    const text = (frag.textContent || '').replace(/[\s¶]+/g, '');
    if (!text && !frag.querySelector('img, svg, table, canvas, iframe'))
      empty.push(h.textContent.replace('¶', '').trim());
  });
  return empty;
}"""

TALL_OUTPUTS = r"""(maxPx) => [
  ...document.querySelectorAll('.jp-OutputArea-output pre, .output_text pre, .jp-RenderedText')]
  .filter(e => e.getBoundingClientRect().height > maxPx)
  .map(e => `${Math.round(e.getBoundingClientRect().height)} px: ${e.textContent.slice(0, 60)}`)"""

def nav_links(page) -> list:
    "The navigation's page links (href resolved), in order, without duplicates."
    hrefs = page.eval_on_selector_all(".md-nav a.md-nav__link[href]", "els => els.map(e => e.href)")
    seen, out = set(), []
    for h in hrefs:
        h = h.split("#")[0]
        if h and h not in seen: seen.add(h); out.append(h)
    return out

def check_page(page, url:str, shots:Path, external:list) -> list:
    "The failures found on the page at `url` (a file:// URL)."
    problems, path = [], Path(unquote(urlparse(url).path))
    name = path.relative_to(path.parents[1] if path.parent.name == "notes" else path.parent).as_posix()
    if not path.is_file(): return [f"{name}: the navigation links to {path}, which is not a file"]
    external.clear()
    page.goto(url, wait_until="load")
    page.screenshot(path=str(shots / (name.replace("/", "_") + ".png")))
    text = page.inner_text("body")
    for m in sorted(set(LOCAL.findall(text))):
        i = text.find(m)
        problems.append(f"{name}: shows {m!r}: …{text[max(0, i - 80):i + 80]!r}…")
    if empty := page.evaluate(EMPTY_HEADINGS): problems.append(f"{name}: headings with nothing under them: {empty}")
    if tall := page.evaluate(TALL_OUTPUTS, MAX_OUTPUT_PX):
        problems.append(f"{name}: outputs taller than {MAX_OUTPUT_PX} px: {tall}")
    if page.locator(".jupyter-widgets, script[type='application/vnd.jupyter.widget-view+json']").count():
        problems.append(f"{name}: widget placeholders (blank without a widget script from the web)")
    if external: problems.append(f"{name}: loads from the web: {sorted(set(external))}")
    return problems

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", nargs="?", type=Path, default=ROOT / "_site")
    ap.add_argument("--shots", type=Path, default=Path(tempfile.gettempdir()) / "findna-check-site", help="screenshots")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium", help="browser executable")
    args = ap.parse_args(argv)
    index = args.site.resolve() / "index.html"
    if not index.is_file(): raise SystemExit(f"{index}: no such file; build the site first (make docs)")
    from playwright.sync_api import sync_playwright
    args.shots.mkdir(parents=True, exist_ok=True)
    problems, external = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("request", lambda r: external.append(r.url) if r.url.startswith(("http:", "https:")) else None)
        page.goto(index.as_uri(), wait_until="load")
        links = nav_links(page)
        if len(links) < 5: problems.append(f"index.html: only {len(links)} navigation links")
        if not (page.locator(".md-search__input").is_visible() or page.locator(".findna-offline-search").is_visible()):
            problems.append("index.html: opened as a file, neither a search box nor a note saying how to get one")
        pages = [index.as_uri()] + [u for u in links if u != index.as_uri()]
        run_pages = 0
        for url in pages:
            found = check_page(page, url, args.shots, external)
            problems += found
            if m := re.search(r"/((09|10|11|12)_\w+)\.html$", url):
                run_pages += 1
                if "smoke test" not in page.inner_text("body").lower():
                    problems.append(f"{m.group(1)}.html: built with its defaults, the page does not say 'smoke test'")
            shown = Path(unquote(urlparse(url).path)).relative_to(index.parent).as_posix()
            print(f"{shown}: {'ok' if not found else f'{len(found)} problem(s)'}", flush=True)
        if run_pages < 4: problems.append(f"only {run_pages} of the run notebooks 09-12 are in the navigation")
        browser.close()
    print(f"{len(pages)} pages checked; screenshots: {args.shots}")
    for p_ in problems: print("FAIL", p_)
    print("check_site: " + ("all checks hold" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0

if __name__ == "__main__":
    sys.exit(main())
