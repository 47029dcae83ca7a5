"""The Phantom engine: Splunk SOAR playbook files (`import phantom.rules as phantom`) run unmodified as one
generic workflow, `PhantomPlaybook`.

    loader.py       the playbook directory: compile, check, name, version (SHA-256), content-addressed store
    shims.py        the user module's imports: phantom.rules, and datetime/time/random/uuid on workflow time
    context.py      the engine of the running user code (a context variable) and where user errors point
    workflow.py     the workflow: on_start, callbacks as results arrive, on_finish, failures
    base.py         the run's state, how user code is called, container changes flushed per step
    acts.py         phantom.act: assets, parameters, targets=, approvals, activities, records
    safety.py       which acts descend from an analyst's approval; the Approve/Deny gate for the others
    prompts.py      phantom.prompt / prompt2 as the product's prompts (PromptDesk)
    children.py     phantom.playbook: native or Phantom child playbooks, inputs and outputs
    results.py      the callback `results` in Splunk's shape plus the brief's reading places
    datapaths.py    the datapath grammar and collect2
    conditions.py   condition / decision, format / concatenate
    containers.py   the container and artifacts as Phantom dicts; container changes
"""
