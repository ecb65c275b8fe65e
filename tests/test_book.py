"""The course book builds strictly and every page renders cleanly in a real browser.

Marker: every test here is marked ``book``.  Register it in pytest.ini::

    markers =
        book: builds the Jupyter Book (executes notebooks) and checks it in headless chromium (slow)

Run::

    pytest -m book tests/test_book.py            # build once + browser check
    ATTNLIB_BOOK_SKIP_BUILD=1 pytest -m book ... # reuse an existing _build/html/

1. ``test_book_builds_strict`` runs ``jupyter-book build book --all -W -n --keep-going``
   from the repository root (once per session).  ``--all`` forces Sphinx to re-read
   every page: an incremental build would not re-emit warnings of unchanged pages,
   so a stale build could pass ``-W``.
2. ``test_book_pages_in_browser`` serves ``_build/html`` on 127.0.0.1 and visits every
   page of the sidebar table of contents with Debian's chromium driven by playwright.
   On each page it checks: no error output, every <img> loaded, MathJax typeset every
   formula (no raw ``\\(`` / ``$$`` left, no MathJax errors), nothing was requested from
   another host, no asset failed to load, no JavaScript error.  It saves a full-page
   screenshot of each page to ``_build/screenshots/<page>.png``.
   Skipped if /usr/bin/chromium is missing (``scripts/install_chromium.sh`` installs it).
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUILD_TIMEOUT_S = int(os.environ.get("ATTNLIB_BOOK_BUILD_TIMEOUT", "3600"))
PAGE_TIMEOUT_MS = 30_000


# --------------------------------------------------------------------------- build


def _jupyter_book() -> list[str]:
    """The jupyter-book next to this interpreter (the venv's), else the one on PATH."""
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    pytest.fail("jupyter-book is not installed (pip install 'jupyter-book<2')")


@pytest.fixture(scope="session")
def book_build():
    """Build the book once per session; returns (returncode, combined output, seconds)."""
    if os.environ.get("ATTNLIB_BOOK_SKIP_BUILD") == "1":
        if not (HTML / "index.html").exists():
            pytest.fail("ATTNLIB_BOOK_SKIP_BUILD=1 but _build/html/index.html does not exist")
        return 0, "(build skipped: ATTNLIB_BOOK_SKIP_BUILD=1)", 0.0
    env = dict(os.environ)
    env.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    env.setdefault("ATTNLIB_PROFILE", "smoke")
    env.setdefault("PYTHONUNBUFFERED", "1")
    cmd = _jupyter_book() + ["build", "book", "--all", "-W", "-n", "--keep-going"]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=BUILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return -1, f"build timed out after {BUILD_TIMEOUT_S} s\n{out}", time.monotonic() - t0
    return proc.returncode, proc.stdout, time.monotonic() - t0


def _tail(text: str, lines: int = 80) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # strip colours
    return "\n".join(text.splitlines()[-lines:])


def test_book_builds_strict(book_build):
    rc, out, seconds = book_build
    print(f"book build: rc={rc} in {seconds:.1f} s")
    warnings = [ln for ln in re.sub(r"\x1b\[[0-9;]*m", "", out).splitlines()
                if re.search(r"\b(WARNING|ERROR|CRITICAL):", ln)]
    detail = "\n".join(warnings[:50]) or "(no WARNING/ERROR lines found)"
    assert rc == 0, (
        f"`jupyter-book build book --all -W -n --keep-going` failed (rc={rc}).\n"
        f"--- warnings/errors ---\n{detail}\n--- last lines ---\n{_tail(out)}"
    )
    assert (HTML / "index.html").exists(), "the build did not write _build/html/index.html"


# --------------------------------------------------------------------------- browser


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def book_server(book_build):
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built book at {HTML}; build output:\n{_tail(book_build[1], 30)}")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _toc_docnames() -> list[str]:
    """Docnames listed in _toc.yml (root + every `file:` entry, at any depth)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                names.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [re.sub(r"\.(md|ipynb|rst)$", "", n) for n in names]


# Everything below runs inside the page.
_JS_WAIT_MATH = """
async () => {
  if (document.fonts && document.fonts.ready) { await document.fonts.ready; }
  const mj = window.MathJax;
  if (!mj || !mj.startup || !mj.startup.promise) { return false; }
  await mj.startup.promise;
  if (document.fonts && document.fonts.ready) { await document.fonts.ready; }
  return true;
}
"""

_JS_WAIT_IMAGES = """
async (timeoutMs) => {
  const imgs = Array.from(document.images);
  for (const img of imgs) { if (img.loading === 'lazy') img.loading = 'eager'; }
  const settle = img => img.complete ? Promise.resolve() : new Promise(resolve => {
    img.addEventListener('load', resolve, {once: true});
    img.addEventListener('error', resolve, {once: true});
  });
  await Promise.race([
    Promise.all(imgs.map(settle)),
    new Promise(resolve => setTimeout(resolve, timeoutMs)),
  ]);
  return imgs.filter(img => !(img.complete && img.naturalWidth > 0))
             .map(img => img.currentSrc || img.getAttribute('src') || '(no src)');
}
"""

_JS_INSPECT = r"""
() => {
  const main = document.querySelector('main') || document.body;
  const errorSel = '.output.stderr, .output.traceback, .output_error, .output-error, ' +
                   '.cell_output .traceback, .system-message, .problematic';
  const errors = Array.from(main.querySelectorAll(errorSel))
    .map(el => (el.className + ': ' + el.innerText.trim()).slice(0, 300));
  // Visible prose + outputs, without code (inputs may legitimately contain \( or $$)
  // and without what MathJax produced.
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, mjx-container, .cell_input, .MathJax')
       .forEach(el => el.remove());
  const text = clone.textContent;
  // "Traceback" anywhere but in code the reader wrote (outputs included).
  const outClone = main.cloneNode(true);
  outClone.querySelectorAll('script, style, .cell_input').forEach(el => el.remove());
  const rawMath = [];
  for (const token of ['\\(', '\\)', '\\[', '\\]', '$$']) {
    const i = text.indexOf(token);
    if (i >= 0) rawMath.push(JSON.stringify(text.slice(Math.max(0, i - 40), i + 60)));
  }
  const mathNodes = Array.from(document.querySelectorAll('span.math, div.math'));
  const untypeset = mathNodes.filter(el => !el.querySelector('mjx-container'))
                             .map(el => el.textContent.trim().slice(0, 80));
  const mathErrors = Array.from(document.querySelectorAll('mjx-merror, mjx-container [data-mjx-error]'))
                          .map(el => (el.getAttribute('data-mjx-error') || el.textContent).slice(0, 120));
  // The `noundefined` extension renders an unknown macro as red text instead of an error.
  Array.from(document.querySelectorAll('mjx-container [style*="color: red"], mjx-container [mathcolor="red"]'))
       .filter(el => el.textContent.trim())
       .forEach(el => mathErrors.push('undefined macro ' + el.textContent.trim().slice(0, 60)));
  return {
    errors, rawMath, untypeset, mathErrors,
    traceback: /Traceback/.test(outClone.textContent),
    mathCount: mathNodes.length,
    typeset: document.querySelectorAll('mjx-container').length,
    images: document.images.length,
    title: document.title,
  };
}
"""

_JS_TOC_LINKS = """
() => {
  const nav = document.querySelector('.bd-sidebar-primary nav.bd-links, nav.bd-links, #bd-docs-nav');
  const scope = nav || document.querySelector('.bd-sidebar-primary') || document;
  return Array.from(scope.querySelectorAll('a.reference.internal, a.reference')).map(a => a.href);
}
"""


def _shot_name(rel: str) -> str:
    stem = rel[:-5] if rel.endswith(".html") else rel
    return re.sub(r"[^A-Za-z0-9_.-]+", "__", stem).strip("_") or "index"


def test_book_pages_in_browser(book_server):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: run scripts/install_chromium.sh (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")

    base = book_server
    SHOTS.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    problems: dict[str, list[str]] = {}
    remote: list[str] = []
    http_errors: list[str] = []
    js_errors: list[str] = []
    current = {"url": "(start)"}

    def block_remote(route):
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            remote.append(f"{url}  (from {current['url']})")
            route.abort()

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", block_remote)
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            print(f"browser started in {time.monotonic() - t0:.1f} s")
            page.on("pageerror", lambda exc: js_errors.append(f"{current['url']}: {exc}"))
            page.on("response", lambda r: (r.status >= 400 and not r.url.endswith("/favicon.ico"))
                    and http_errors.append(f"{r.status} {r.url}"))
            page.on("requestfailed", lambda r: (urlsplit(r.url).hostname in ("127.0.0.1", "localhost")
                                                and not r.url.endswith("/favicon.ico"))
                    and http_errors.append(f"failed ({r.failure}) {r.url}"))

            # The index is a redirect to the root page: follow it, then read the sidebar toc.
            page.goto(f"{base}/index.html", wait_until="load")
            redirect = re.search(r'http-equiv="refresh"', (HTML / "index.html").read_text(), re.I)
            if redirect:
                page.wait_for_url(lambda u: not u.endswith("/index.html"))
            page.wait_for_selector(".bd-sidebar-primary a.reference", state="attached")
            pages: list[str] = []
            for href in [page.url] + page.evaluate(_JS_TOC_LINKS):
                parts = urlsplit(href)
                if f"{parts.scheme}://{parts.netloc}" != base or not parts.path.endswith(".html"):
                    continue
                rel = parts.path.lstrip("/")
                if redirect and rel == "index.html":
                    continue
                if rel not in pages and rel not in ("genindex.html", "search.html"):
                    pages.append(rel)

            expected = {f"{d}.html" for d in _toc_docnames()}
            missing = sorted(expected - set(pages))
            assert not missing, f"toc entries not linked from the sidebar: {missing}; sidebar: {pages}"

            summary = []
            for rel in pages:
                url = f"{base}/{rel}"
                current["url"] = rel
                t_page = time.monotonic()
                issues: list[str] = []
                response = page.goto(url, wait_until="load")
                if response is None or not response.ok:
                    issues.append(f"HTTP {response.status if response else 'no response'}")
                has_mathjax = page.evaluate(_JS_WAIT_MATH)
                broken_imgs = page.evaluate(_JS_WAIT_IMAGES, 15_000)
                info = page.evaluate(_JS_INSPECT)
                if info["errors"]:
                    issues.append(f"error output: {info['errors']}")
                if info["traceback"]:
                    issues.append("the text 'Traceback' appears on the page")
                if broken_imgs:
                    issues.append(f"images not loaded: {broken_imgs}")
                if info["rawMath"]:
                    issues.append(f"raw TeX left in the text: {info['rawMath']}")
                if info["mathCount"] and not has_mathjax:
                    issues.append(f"{info['mathCount']} formulas but MathJax did not start")
                if info["untypeset"]:
                    issues.append(f"formulas not typeset: {info['untypeset'][:5]}")
                if info["mathErrors"]:
                    issues.append(f"MathJax errors: {info['mathErrors'][:5]}")
                page.screenshot(path=str(SHOTS / f"{_shot_name(rel)}.png"), full_page=True)
                if issues:
                    problems[rel] = issues
                summary.append(f"{rel}: {info['typeset']}/{info['mathCount']} formulas typeset, "
                               f"{info['images']} images, {time.monotonic() - t_page:.1f} s")
        finally:
            browser.close()

    seconds = time.monotonic() - t0
    print(f"browser check: {len(pages)} pages in {seconds:.1f} s; screenshots in {SHOTS}")
    print("\n".join(summary))
    report = [f"{rel}:\n  " + "\n  ".join(issues) for rel, issues in problems.items()]
    if remote:
        report.append("requests to other hosts (the book must work offline):\n  "
                      + "\n  ".join(sorted(set(remote))))
    if http_errors:
        report.append("assets that failed to load:\n  " + "\n  ".join(sorted(set(http_errors))))
    if js_errors:
        report.append("JavaScript errors:\n  " + "\n  ".join(js_errors))
    assert not report, "book pages have problems:\n" + "\n".join(report)
