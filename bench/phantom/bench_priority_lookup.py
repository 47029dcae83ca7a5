"""Bench only (scenario 5, severity fair shares): look up the container's source IPs on the VirusTotal asset
limited to 4 per minute (or the rate `--quota-rate` sets)."""
import phantom.rules as phantom


def on_start(container):
    success, message, artifacts = phantom.get_artifacts(container_id=container["id"], full_data=True)
    ips = [a["cef"]["sourceAddress"] for a in artifacts if a.get("cef", {}).get("sourceAddress")]
    if ips:
        phantom.act("ip reputation", parameters=[{"ip": ip} for ip in ips], assets=["virustotal_4pm"],
                    name="quota_lookup")
