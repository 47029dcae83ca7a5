"""Test stand-in for the community dispatch playbook Attribute_Lookup_Dispatch."""
import phantom.rules as phantom


def on_start(container):
    phantom.comment(container, "Attribute_Lookup_Dispatch ran; status was " + phantom.get_container(container["id"])["status"])
