"""The analyst CLI (`soar ingest|prompts|respond|report|metrics`) against the real API over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

from core.settings import ROOT
from tests.helpers.api import run_api
from tests.helpers.stack import run_stack


def soar(base: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOAR_API_URL": base, "SOAR_API_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


async def test_ingest_prompts_respond_report(dev_env, task_queue, assets_file, sim, tmp_path):
    container = {"name": "EDR: mimikatz", "label": "edr", "severity": "high",
                 "source_data_identifier": f"cli-{uuid.uuid4().hex}",
                 "artifacts": [{"cef": {"sourceHostName": "WORKSTATION-077", "sourceUserName": "jdoe"}}]}
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(container))
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            r = await asyncio.to_thread(soar, base, "demo-automation-token", "ingest", str(path))
            assert r.returncode == 0, r.stderr
            assert "container: container SOAR-" in r.stdout and "containment_decision" in r.stdout
            cid = r.stdout.split("container: container ")[1].split(";")[0].strip()
            dup = await asyncio.to_thread(soar, base, "demo-automation-token", "ingest", str(path))
            assert "duplicate" in dup.stdout
            v = await stack.wait_for(cid, lambda v: v.pending_prompts, timeout=60)
            pid = v.pending_prompts[0].id
            for _ in range(100):  # visibility is eventually consistent
                lst = await asyncio.to_thread(soar, base, "demo-tier2-token", "prompts")
                if pid in lst.stdout:
                    break
                await asyncio.sleep(0.2)
            assert pid in lst.stdout and "soc_tier2" in lst.stdout
            bad = await asyncio.to_thread(soar, base, "demo-tier1-token", "respond", pid, "Isolate Host")
            assert bad.returncode == 1 and "HTTP 403" in bad.stderr
            ok = await asyncio.to_thread(soar, base, "demo-tier2-token", "respond", pid, "Isolate Host")
            assert ok.returncode == 0 and "CrowdStrike will isolate WORKSTATION-077" in ok.stdout
            await stack.wait_for(cid, lambda v: v.state.runs[0].status != "running", timeout=60)
            rep = await asyncio.to_thread(soar, base, "demo-tier1-token", "report", cid)
            assert "Quarantine Device (CrowdStrike) - WORKSTATION-077 isolated" in rep.stdout
            m = await asyncio.to_thread(soar, base, "demo-tier1-token", "metrics")
            assert m.returncode == 0 and "runs" in m.stdout
            noauth = await asyncio.to_thread(soar, base, "", "prompts")
            assert noauth.returncode == 2 and "No API token" in noauth.stderr
