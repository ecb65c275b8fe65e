"""Small build fixes for the attnlib book (a local Sphinx extension, see _config.yml).

De-duplicate inline <script> tags.  Sphinx 7.4 adds a script registered after
``Builder.init()`` (e.g. by sphinx-thebe in ``env-before-read-docs``) twice when its
filename is ``None``: once as ``None`` and once as ``''``, which compare unequal.
sphinx-thebe's ``const THEBE_JS_URL = ...`` then throws "Identifier 'THEBE_JS_URL'
has already been declared" on every page.  Fixed upstream in Sphinx 8.2
(sphinx-doc/sphinx#13402); Jupyter Book 1.x stays on Sphinx 7.
"""

from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    unique = []
    for js in scripts:
        filename = getattr(js, "filename", js) or ""
        attrs = getattr(js, "attributes", {}) or {}
        key = (str(filename), tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(js)
    if len(unique) != len(scripts):
        scripts[:] = unique


def setup(app):
    # Run late, after the theme and extensions have added their per-page assets.
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
