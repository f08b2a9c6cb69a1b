"""How much a request may send: every size limit of the site in one place.

`web.security.BodyLimit` enforces the body limits for every route while the body streams in
(chunked or not), before anything reads it; `web.forms` parses forms with the form limits."""

from __future__ import annotations

# Forms: no uploads anywhere on the site; the largest field is a wrapped key or an address.
MAX_FIELDS = 50
MAX_PART_SIZE = 64 * 1024

# The body of any request whose route asks for nothing else: a form of a few full-size
# fields and far more than any form of the site sends.
MAX_BODY = 4 * MAX_PART_SIZE

# My Booklist create and save carry the sealed list as JSON: base64 of at most
# db.queries' 2 MiB of ciphertext (2,796,204 characters) plus a few short fields.
BOOKLIST_SEALED_BODY = 3 * 1024 * 1024

# The availability lookup: at most 500 record ids of at most ten digits, as JSON.
BOOKLIST_AVAILABILITY_BODY = 8 * 1024
