"""Bounds that keep the ingestion parsers linear in time and memory on hostile input.

The caps a caller may want to tune per request (URLs, attachments, MIME parts, nesting depth, artifacts)
are keyword arguments of the parsers; these are the fixed safety rails behind them.
"""

from __future__ import annotations

# Artifacts per container; the API's own cap (`Settings.api_max_artifacts`) is the same by default.
MAX_ARTIFACTS = 1000

# Notes (comments) a parser returns; the rest are summarised in one line.
MAX_NOTES = 50
MAX_NOTE_CHARS = 500

# Text (decoded characters) scanned for URLs across all parts of one message.
MAX_SCAN_CHARS = 16_000_000
# One URL candidate; longer runs of non-space characters are cut here before refanging.
MAX_URL_CHARS = 4096
# Distinct URLs remembered (to count them for the note); scanning stops beyond this.
MAX_URLS_COUNTED = 200_000

# Header bytes handed to the stdlib header parser (pure Python, per line): the top-level message,
# each MIME part, and the whole message.
MAX_TOP_HEADER_BYTES = 1024 * 1024
MAX_PART_HEADER_BYTES = 64 * 1024
MAX_TOTAL_HEADER_BYTES = 4 * 1024 * 1024
# One header value handed to the (pure Python) structured header parser; longer ones are used raw.
MAX_PARSED_HEADER_CHARS = 8192

# Values copied into artifacts.
MAX_HEADER_VALUE_CHARS = 2048
MAX_FILENAME_CHARS = 255
MAX_EXTRA_VALUE_CHARS = 2048
MAX_EXTRA_LIST_ITEMS = 100
MAX_CEF_KEYS = 200

# The serialised container (`Container.model_dump_json()`) plus its notes, in bytes. Placeholder for the
# per-container payload budget of the design (history holds references, not blobs); artifacts beyond it
# are dropped, last first, with a note.
CONTAINER_BUDGET_BYTES = 256 * 1024

# Unmapped Splunk result fields copied into the notable artifact, in characters across all of them.
MAX_EXTRA_TOTAL_CHARS = 64 * 1024
