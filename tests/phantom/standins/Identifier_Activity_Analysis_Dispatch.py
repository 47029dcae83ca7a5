"""Test stand-in: dispatch the VirusTotal v3 reputation input playbook with the container's IPs and hashes."""
import phantom.rules as phantom


def on_start(container):
    ips = [row[0] for row in phantom.collect2(container=container, datapath=["artifact:*.cef.sourceAddress"]) if row[0]]
    hashes = [row[0] for row in phantom.collect2(container=container, datapath=["artifact:*.cef.fileHash"]) if row[0]]
    phantom.playbook("local/VirusTotal_v3_Identifier_Reputation_Analysis", container=container,
                     name="virustotal_v3_identifier_reputation_analysis", callback=add_report,
                     inputs={"ip": ips, "file_hash": hashes})


def add_report(action=None, success=None, container=None, results=None, handle=None, **kwargs):
    report = phantom.collect2(container=container, datapath=[
        "virustotal_v3_identifier_reputation_analysis:playbook_output:markdown_report"])
    phantom.add_note(container=container, title="VirusTotal v3 reputation", note_format="markdown",
                     content="\n\n".join(row[0] for row in report))
    phantom.save_playbook_output_data(output={"dispatched": ["VirusTotal_v3_Identifier_Reputation_Analysis"]})
