"""Universal Alert Enrichment on the dev server with the real connectors and the simulator."""

from __future__ import annotations

import uuid

from core.models import Artifact, Container, Severity
from tests.helpers.stack import run_stack


async def test_enrichment_adds_one_artifact_per_indicator(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        c = Container(name="Notable: outbound beacon", label="notable", severity=Severity.MEDIUM,
                      source_data_identifier=f"enr-{uuid.uuid4().hex}",
                      artifacts=[Artifact(cef={"sourceAddress": "81.2.69.160", "destinationDnsDomain": "evil.example"}),
                                 Artifact(cef={"sourceAddress": "198.51.100.7"})])
        r = await stack.start(c)
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs and v.state.runs[0].status != "running")
        enr = {a.name: a.cef for a in v.state.container.artifacts if a.label == "enrichment"}
        assert set(enr) == {"Enrichment: 81.2.69.160", "Enrichment: 198.51.100.7", "Enrichment: evil.example"}
        london = enr["Enrichment: 81.2.69.160"]
        assert london["geo_city"] == "London" and london["geo_country"] == "GB"
        assert london["vt_malicious"] == 0 and london["enrichment_source"] == "VirusTotal, MaxMind, Whois"
        assert "whois_network" in london and "whois_cidr" in london
        assert enr["Enrichment: 198.51.100.7"]["vt_malicious"] == 8
        assert enr["Enrichment: evil.example"]["vt_malicious"] == 14
        assert "Enriched 2 IP(s) and 1 domain(s)." in [x.text for x in v.state.comments]
        calls = sim.state()["calls"]
        assert calls["maxmind"] == 2 and calls["rdap"] >= 2
