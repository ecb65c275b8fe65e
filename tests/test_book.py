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
   another host, no asset failed to load, no JavaScript error, and nothing is wider
   than the article column: no table (or its scroll container), no image, and on the
   pages under ``book/`` no code block (``scrollWidth > clientWidth`` of each ``<pre>``,
   or its right edge past the column's), with collapsed cells opened first.  It saves
   a full-page screenshot of each page to ``_build/screenshots/<page>.png``.
   Skipped if /usr/bin/chromium is missing (``scripts/install_chromium.sh`` installs it).
3. ``test_notebook_code_blocks_fit_column``: the same code-block width check on the
   notebook pages (inputs and outputs), from the same browser pass.
4. ``test_setup_cells_work`` runs the setup cells of ``book/run_on_colab_or_gpu.md``
   (templates ``book/_data/colab_*.txt``, repository URL from ``_config.yml``) against
   this checkout: the URL replaced by ``file://<checkout>``, ``pip install`` into a
   temporary target with ``--no-deps --no-build-isolation`` (fast, offline), the data
   command with ``--root $ATTNLIB_DATA``, plus a corrupted copy for the checksum error.
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
            cmd,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=BUILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        out = (
            exc.stdout.decode(errors="replace")
            if isinstance(exc.stdout, bytes)
            else (exc.stdout or "")
        )
        return -1, f"build timed out after {BUILD_TIMEOUT_S} s\n{out}", time.monotonic() - t0
    return proc.returncode, proc.stdout, time.monotonic() - t0


def _tail(text: str, lines: int = 80) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # strip colours
    return "\n".join(text.splitlines()[-lines:])


def test_book_builds_strict(book_build):
    rc, out, seconds = book_build
    print(f"book build: rc={rc} in {seconds:.1f} s")
    warnings = [
        ln
        for ln in re.sub(r"\x1b\[[0-9;]*m", "", out).splitlines()
        if re.search(r"\b(WARNING|ERROR|CRITICAL):", ln)
    ]
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
  const mathErrors = Array.from(
      document.querySelectorAll('mjx-merror, mjx-container [data-mjx-error]'))
    .map(el => (el.getAttribute('data-mjx-error') || el.textContent).slice(0, 120));
  // The `noundefined` extension renders an unknown macro as red text instead of an error.
  Array.from(document.querySelectorAll(
      'mjx-container [style*="color: red"], mjx-container [mathcolor="red"]'))
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
  const nav = document.querySelector(
      '.bd-sidebar-primary nav.bd-links, nav.bd-links, #bd-docs-nav');
  const scope = nav || document.querySelector('.bd-sidebar-primary') || document;
  return Array.from(scope.querySelectorAll('a.reference.internal, a.reference')).map(a => a.href);
}
"""


# Widths.  Collapsed cells (<details>, e.g. the hidden "Solution" cells) are opened first,
# so their code is measured too.  The column is the article's content box.
_JS_WIDTHS = r"""
async () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  // Opened cells may show text in fonts not loaded yet (MathJax's): wait for them, so
  // that widths are final and no font request is cut off by the next navigation.
  await new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  if (document.fonts && document.fonts.ready) { await document.fonts.ready; }
  const article = document.querySelector('article.bd-article')
               || document.querySelector('main') || document.body;
  const box = article.getBoundingClientRect();
  const cs = getComputedStyle(article);
  const right = box.right - parseFloat(cs.paddingRight) - parseFloat(cs.borderRightWidth);
  const width = right - (box.left + parseFloat(cs.paddingLeft) + parseFloat(cs.borderLeftWidth));
  const cells = Array.from(article.querySelectorAll('.cell'));
  const where = el => {
    const cell = el.closest('.cell');
    if (!cell) {
      const sec = el.closest('section[id]');
      return 'text block' + (sec ? ' in #' + sec.id : '');
    }
    const part = el.closest('.cell_output') ? 'output' : 'input';
    return `cell ${cells.indexOf(cell) + 1} ${part}`;
  };
  const visible = el => el.getClientRects().length > 0;
  const out = [];
  for (const pre of article.querySelectorAll('pre')) {
    if (!visible(pre)) continue;
    const r = pre.getBoundingClientRect();
    if (pre.scrollWidth > pre.clientWidth + 1 || r.right > right + 1) {
      const lines = pre.textContent.split('\n');
      const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
      out.push({kind: 'code', where: where(pre), need: pre.scrollWidth,
                have: Math.round(Math.min(pre.clientWidth, width)),
                chars: longest.length, text: longest.trim().slice(0, 70)});
    }
  }
  for (const table of article.querySelectorAll('table')) {
    if (!visible(table)) continue;
    const r = table.getBoundingClientRect();
    const scroller = table.closest('.pst-scrollable-table-container, .table-wrapper, .output');
    const scrolls = scroller && scroller.scrollWidth > scroller.clientWidth + 1;
    if (scrolls || r.right > right + 1 || r.width > width + 1) {
      out.push({kind: 'table', where: where(table), need: Math.round(r.width),
                have: Math.round(width),
                text: table.innerText.trim().split('\n')[0].slice(0, 70)});
    }
  }
  for (const img of article.querySelectorAll('img, svg:not(mjx-container svg)')) {
    if (!visible(img)) continue;
    const r = img.getBoundingClientRect();
    if (r.right > right + 1 || r.width > width + 1) {
      out.push({kind: 'figure', where: where(img), need: Math.round(r.width),
                have: Math.round(width),
                text: (img.getAttribute('src') || img.tagName).slice(-70)});
    }
  }
  return {column: Math.round(width), items: out};
}
"""


def _shot_name(rel: str) -> str:
    stem = rel[:-5] if rel.endswith(".html") else rel
    return re.sub(r"[^A-Za-z0-9_.-]+", "__", stem).strip("_") or "index"


def _is_notebook_page(rel: str) -> bool:
    """Chapter pages built from notebooks/*.ipynb (the other pages are book/*.md)."""
    return rel.startswith("notebooks/")


def _format_width(item: dict) -> str:
    chars = f", longest line {item['chars']} chars" if "chars" in item else ""
    return (
        f"{item['kind']} wider than the column at {item['where']}: needs {item['need']} px, "
        f"has {item['have']} px{chars}: {item['text']!r}"
    )


@pytest.fixture(scope="module")
def browser_report(book_server):
    """Visit every toc page once in headless chromium; return what was found on each."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} not found: run scripts/install_chromium.sh (apt-get install chromium)"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright (python) is not installed"
    )

    base = book_server
    SHOTS.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    problems: dict[str, list[str]] = {}
    widths: dict[str, list[dict]] = {}
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
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", block_remote)
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            print(f"browser started in {time.monotonic() - t0:.1f} s")
            page.on("pageerror", lambda exc: js_errors.append(f"{current['url']}: {exc}"))
            page.on(
                "response",
                lambda r: (
                    (r.status >= 400 and not r.url.endswith("/favicon.ico"))
                    and http_errors.append(f"{r.status} {r.url}")
                ),
            )
            page.on(
                "requestfailed",
                lambda r: (
                    (
                        urlsplit(r.url).hostname in ("127.0.0.1", "localhost")
                        and not r.url.endswith("/favicon.ico")
                    )
                    and http_errors.append(f"failed ({r.failure}) {r.url}")
                ),
            )

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
            assert not missing, (
                f"toc entries not linked from the sidebar: {missing}; sidebar: {pages}"
            )

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
                measured = page.evaluate(_JS_WIDTHS)  # after the screenshot: it opens <details>
                widths[rel] = measured["items"]
                if issues:
                    problems[rel] = issues
                summary.append(
                    f"{rel}: {info['typeset']}/{info['mathCount']} formulas typeset, "
                    f"{info['images']} images, column {measured['column']} px, "
                    f"{len(measured['items'])} too wide, {time.monotonic() - t_page:.1f} s"
                )
        finally:
            browser.close()

    seconds = time.monotonic() - t0
    print(f"browser check: {len(pages)} pages in {seconds:.1f} s; screenshots in {SHOTS}")
    print("\n".join(summary))
    return {
        "pages": pages,
        "problems": problems,
        "widths": widths,
        "remote": remote,
        "http_errors": http_errors,
        "js_errors": js_errors,
    }


def test_book_pages_in_browser(browser_report):
    r = browser_report
    problems = {rel: list(issues) for rel, issues in r["problems"].items()}
    for rel, items in r["widths"].items():
        for item in items:
            # Code blocks of the notebook pages are checked by the next test.
            if item["kind"] != "code" or not _is_notebook_page(rel):
                problems.setdefault(rel, []).append(_format_width(item))
    report = [f"{rel}:\n  " + "\n  ".join(issues) for rel, issues in problems.items()]
    if r["remote"]:
        report.append(
            "requests to other hosts (the book must work offline):\n  "
            + "\n  ".join(sorted(set(r["remote"])))
        )
    if r["http_errors"]:
        report.append(
            "assets that failed to load:\n  " + "\n  ".join(sorted(set(r["http_errors"])))
        )
    if r["js_errors"]:
        report.append("JavaScript errors:\n  " + "\n  ".join(r["js_errors"]))
    assert not report, "book pages have problems:\n" + "\n".join(report)


def test_notebook_code_blocks_fit_column(browser_report):
    """Every code block (input or output) of the notebook pages fits the article column."""
    wide = {
        rel: [_format_width(i) for i in items if i["kind"] == "code"]
        for rel, items in browser_report["widths"].items()
        if _is_notebook_page(rel)
    }
    wide = {rel: lines for rel, lines in wide.items() if lines}
    count = sum(len(v) for v in wide.values())
    assert not wide, (
        f"{count} code blocks wider than the column on {len(wide)} notebook pages:\n"
        + "\n".join(f"{rel}:\n  " + "\n  ".join(v) for rel, v in wide.items())
    )


# --------------------------------------------------------------------------- setup cells

SETUP_TEMPLATES = ("colab_setup.txt", "colab_clone.txt")


def _setup_commands(template: str, repo_url: str) -> list[list[str]]:
    """The shell commands of a setup-cell template (``%pip``/``!cmd`` lines, comments dropped)."""
    import shlex

    text = (ROOT / "book" / "_data" / template).read_text().format(repo_url=repo_url)
    return [
        shlex.split(line.strip().lstrip("%!"))
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_setup_cells_work(tmp_path):
    """The Colab/GPU setup cells install this checkout and verify the data."""
    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert url.startswith("https://"), f"repository.url in _config.yml is not an https URL: {url!r}"
    data_dir = os.environ.get("ATTNLIB_DATA")
    if not data_dir or not (Path(data_dir) / "train" / "image" / "0.png").exists():
        pytest.skip("ATTNLIB_DATA does not point at a copy of the ISBI 2012 data")
    local = f"file://{ROOT}"  # git clones the committed HEAD of this checkout
    target, cwd = tmp_path / "site", tmp_path / "work"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "NO_ALBUMENTATIONS_UPDATE": "1"}
    seen = []

    def run(cmd, **kw):
        proc = subprocess.run(
            cmd,
            cwd=kw.pop("cwd", cwd),
            env=kw.pop("env", env),
            capture_output=True,
            text=True,
            timeout=600,
            **kw,
        )
        assert proc.returncode == 0, (
            f"{cmd} failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
        return proc

    for template in SETUP_TEMPLATES:
        for cmd in _setup_commands(template, local):
            seen.append(cmd[:3])
            if cmd[:2] == ["pip", "install"]:
                run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "install",
                        *cmd[2:],
                        "--no-deps",
                        "--no-build-isolation",
                        "--target",
                        str(target),
                    ]
                )
                where = run([sys.executable, "-c", "import attnlib; print(attnlib.__file__)"])
                assert where.stdout.strip().startswith(str(target)), where.stdout
            elif cmd[:3] == ["python", "-m", "attnlib"]:
                out = run([sys.executable, *cmd[1:], "--root", data_dir])
                assert "90 files verified" in out.stdout, out.stdout
            elif cmd[:2] == ["git", "clone"]:
                run(cmd)
            elif cmd[0] == "cd":
                cwd = cwd / cmd[1]
                assert cwd.is_dir(), f"{template}: `cd {cmd[1]}` but there is no such folder"
                assert list((cwd / ".." / "results").glob("*/*/run.json")), (
                    "the clone has no run records under results/"
                )
            else:
                pytest.fail(f"{template}: this test does not know how to run {cmd}")
    assert ["pip", "install", "--quiet"] in seen and ["python", "-m", "attnlib"] in seen, seen

    # The checksum failure the troubleshooting page describes: exit status 2, the message.
    bad = tmp_path / "bad" / "train" / "image" / "0.png"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a png")
    proc = subprocess.run(
        [sys.executable, "-m", "attnlib", "data", "--root", str(tmp_path / "bad")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "does not match its SHA256 checksum" in proc.stderr, proc.stderr
