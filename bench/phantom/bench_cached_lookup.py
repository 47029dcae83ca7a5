"""Bench only (scenario 5): look up every URL of the container on the rate-limited, caching VirusTotal asset."""
import phantom.rules as phantom


def on_start(container):
    success, message, artifacts = phantom.get_artifacts(container_id=container["id"], full_data=True)
    urls = [a["cef"]["requestURL"] for a in artifacts if a.get("cef", {}).get("requestURL")]
    if urls:
        phantom.act("url reputation", parameters=[{"url": u} for u in urls], assets=["virustotal_rl_cached"],
                    name="cached_lookup")
