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
#   2: prompts are no longer published to the prompt board. Measured (`python -m bench.run --only 4 --waiting
#      600 --respond-in 90`, same box, one run each): with the board, deadline lateness p50 50.8 s / p99 102 s
#      and the scenario took 342 s; without it 10.9 s / 58.1 s and 254 s. Two signals per prompt into one
#      workflow, each awaited by the run (the close before the run's next step: the analyst's decision waited
#      for it, 389 ms p50 to the action instead of about 50), cost more than the freshness it bought (p99 4.3 s
#      against 3.9 s for visibility alone under the scenario-7 load). Version-1 runs keep publishing.
#   3: a run that opens a prompt tells the API which run to look at, by a local activity in the same workflow
#      task as the container's signal (`soar.announce_prompts`, a marker event; no extra task): the API reads the
#      prompt from the run's memo by DescribeWorkflowExecution and lists it before visibility has indexed it.
PLAYBOOK_VERSION = 3
LOCAL_LOOKUPS = CACHE_BEFORE_QUOTA = NESTED_IN_ONE_TASK = 1
ANNOUNCES_PROMPTS = 3


def publishes_to_board(version: int) -> bool:
    """Whether a playbook run of `version` tells the prompt board of its prompts (version 1 only)."""
    return version == 1

# Container runs (ContainerInput.version), set by the starter:
#   1: a start that carries the triggers' matches and the asset routes (the API matched them at ingestion)
#      runs no local matching activity and takes no patch (no TemporalChangeVersion upsert).
#   2: playbook runs start with ParentClosePolicy.ABANDON, so that when Temporal suggests continue-as-new the
#      container can hand the runs in flight (one waiting on a prompt) to its next run instead of waiting for
#      them: each is told by a `container_moved` signal and reports its end by a `run_ended` signal (the
#      handle's result would go to the closed run). An analyst's close still cancels them (explicitly).
CONTAINER_VERSION = 2
MATCHED_AT_INGEST = 1
ADOPTABLE_RUNS = 2
