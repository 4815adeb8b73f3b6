"""How big a tool argument may be: one number per bound.

The argument models enforce these (tools/query.py, tools/get_process.py,
tools/export_process.py, tools/where_text.py) and the published input schemas state them
as maxLength / maxItems (server/catalog.py), from the same constants, so the two cannot
drift apart; tests/server/test_inventory.py checks every published bound against the
model that enforces it. Kept free of imports so any module can read them.

The numbers are generous for real questions and small enough that no argument can make an
answer (an error quotes at most QUOTE_CHARS of any value) or a backend request large.
"""

from __future__ import annotations

# A name or a piece of text: backend, collection, owner, template, text, one tag, one
# native status, one field name, and each attribute name and text value inside `where`.
NAME_CHARS = 200
# An ISO 8601 date or date-time ("2026-01-31T09:00:00.123456+05:30" is 32).
DATE_CHARS = 40
# A process id as a backend hands it out (tools/ids.py checks the shape as well).
ID_CHARS = 300
# A cursor is our own base64 token; a fan-out over many instances makes it longer.
CURSOR_CHARS = 16_384
# A `where` expression (or the JSON text of the older object form).
WHERE_CHARS = 2_000
# The `filter` of summarize_processes and export_process: list_processes' filters as one
# expression (tools/filter_text.py), `where` conditions included.
FILTER_CHARS = WHERE_CHARS
# An export file name: the NAME_MAX of common file systems.
FILE_NAME_CHARS = 255
# Values in one list parameter (native_status, tags).
MAX_VALUES = 50
# Columns asked for with `fields` (list_processes, export_process): every row field and
# room for backend-specific extra.KEY columns.
MAX_FIELDS = 50
# The most of any one argument an error message repeats back (tools/arguments.shown).
QUOTE_CHARS = 200
