"""Versioned static URLs: /static/<fingerprint>/site.css, where the fingerprint is a hash of
every file under static/. The proxy (deploy/nginx.conf) may then let browsers keep those
files for a year: an upgrade that changes any file changes every URL. One fingerprint for
the whole directory, in the path rather than a query, so that the JavaScript modules'
relative imports (`./booklist-store.js`) are versioned too. /static/<file> keeps working
unversioned (short-lived caching) for pages rendered before an upgrade."""

from __future__ import annotations

import hashlib
from pathlib import Path

LENGTH = 12


def fingerprint(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:LENGTH]
