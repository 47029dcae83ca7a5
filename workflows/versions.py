"""Which behaviour a run has, fixed when it starts: the version its starter wrote into its input.

A change to the commands a workflow issues must not reach runs recorded before it (they would not replay).
`workflow.patched()` does that by recording a marker, and the SDK also upserts the `TemporalChangeVersion`
search attribute for every new run that takes a patch: one visibility write more per alert, which on this
platform's hot path costs as much as any other search-attribute upsert (measured: +15 % server CPU for a
plain workflow, `python -m bench.run --only c`). The changes listed here are decided once, at the start of a
run, so they are keyed on the start input instead: a run started by older code carries version 0 (the field
did not exist) and keeps the old behaviour on every replay; new runs carry the version below. The replay
test (tests/workflows/test_replay.py) replays runs of both versions.
"""

from __future__ import annotations

# Playbook runs (PlaybookInput.version), set by the container for every run it starts, inherited by nested runs:
#   1: read-only lookups on assets without a rate limit run as local activities (no activity tasks, one
#      workflow task for a playbook of lookups); lookups on rate-limited, caching assets ask the worker's cache
#      before dispatch (workflows/cached.py); prompts are published to the prompt board (workflows/board.py);
#      a nested playbook starts in the same workflow task that sends the changes so far (not the task after).
PLAYBOOK_VERSION = 1
LOCAL_LOOKUPS = CACHE_BEFORE_QUOTA = PROMPT_BOARD = NESTED_IN_ONE_TASK = 1

# Container runs (ContainerInput.version), set by the starter:
#   1: a start that carries the triggers' matches and the asset routes (the API matched them at ingestion)
#      runs no local matching activity and takes no patch (no TemporalChangeVersion upsert).
CONTAINER_VERSION = 1
MATCHED_AT_INGEST = 1
