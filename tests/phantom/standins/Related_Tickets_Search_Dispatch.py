"""Test stand-in for the community dispatch playbook Related_Tickets_Search_Dispatch."""
import phantom.rules as phantom


def on_start(container):
    phantom.comment(container, "Related_Tickets_Search_Dispatch ran; status was " + phantom.get_container(container["id"])["status"])
