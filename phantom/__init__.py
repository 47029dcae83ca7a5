"""Splunk SOAR's playbook API for Phantom-format playbooks: `import phantom.rules as phantom`.

Only the user-facing surface lives here (`phantom.rules`); the engine that runs the playbooks as Temporal
workflows is `workflows.phantom`.
"""
