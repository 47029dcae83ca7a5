"""One module per playbook. A playbook is a `Playbook` subclass decorated with `@workflow.defn`."""
