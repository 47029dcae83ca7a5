"""notifications.json: the example loads, every broken form names the file, the entry, the field and the fix,
secrets stay references until resolved, and routing picks channels per role and playbook."""

from __future__ import annotations

import json

import pytest

from core.config.notifications import NotificationFile, load_notifications
from core.config.users import load_users
from core.errors import ConfigError
from core.models.notifications import NotifyRule, channels_for
from core.settings import ROOT
from workflows.registry import PLAYBOOKS

SLACK = {"name": "soc-slack", "type": "slack", "webhook_url": "${SLACK_WEBHOOK_URL}"}


def write(tmp_path, data) -> object:
    p = tmp_path / "notifications.json"
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


def test_the_example_loads_and_its_secrets_stay_references(monkeypatch):
    conf = load_notifications(ROOT / "config" / "notifications.example.json", PLAYBOOKS)
    assert set(conf.channels) == {"soc-slack", "soc-teams", "soc-hook", "soc-mail"}
    assert conf.channels["soc-slack"].webhook_url == "${SLACK_WEBHOOK_URL}"  # type: ignore[union-attr]
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    with pytest.raises(ConfigError, match="SLACK_WEBHOOK_URL is not set") as e:
        conf.check_secrets()
    assert "channel 'soc-slack'" in str(e.value) and "field 'webhook_url'" in str(e.value)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T1/B1/xyz")
    assert conf.secret("soc-slack", "webhook_url") == "https://hooks.slack.com/services/T1/B1/xyz"


@pytest.mark.parametrize("doc, where, field, fix", [
    ([], None, None, 'write {"channels"'),
    ({"channels": [], "routes": [], "extra": 1}, None, "extra", '"channels" and "routes" only'),
    ({"channels": [{"type": "slack"}]}, "channel #0", "name", "lower-case letters"),
    ({"channels": [{"name": "x", "type": "pager"}]}, "channel 'x'", "type", "slack, teams, webhook, email"),
    ({"channels": [{"name": "x", "type": "slack"}]}, "channel 'x'", "webhook_url", "add the field"),
    ({"channels": [{**SLACK, "colour": "red"}]}, "channel 'soc-slack'", "colour", "not recognised"),
    ({"channels": [SLACK, SLACK]}, "channel 'soc-slack'", "name", "unique"),
    ({"channels": [{"name": "m", "type": "email", "host": "smtp", "from": "nobody", "to": ["a@b"]}]},
     "channel 'm'", "from", "name@domain"),
    ({"channels": [{"name": "m", "type": "email", "host": "smtp", "from": "s@x", "to": ["a@b"], "username": "u"}]},
     "channel 'm'", "password", "give both"),
    ({"channels": [SLACK], "routes": [{"channels": ["soc-slack"]}]}, "route #0", "role", "a role, a playbook"),
    ({"channels": [SLACK], "routes": [{"role": "soc_tier2", "channels": ["soc-pager"]}]}, "route #0", "channels",
     "define it"),
    ({"channels": [SLACK], "routes": [{"role": "r", "events": ["decided"], "channels": ["soc-slack"]}]},
     "route #0", "events", "opened, reminder, escalated, timed_out"),
    ({"channels": [SLACK], "routes": [{"playbook": "nope", "channels": ["soc-slack"]}]}, "route #0", "playbook",
     "containment_decision"),
])
def test_broken_files_name_the_entry_field_and_fix(tmp_path, doc, where, field, fix):
    path = write(tmp_path, doc)
    with pytest.raises(ConfigError) as e:
        load_notifications(path, PLAYBOOKS)
    err = e.value
    assert err.file == str(path) and err.entry == where and err.field == field
    assert fix in str(err) and "Fix:" in str(err)


def test_invalid_json_and_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="invalid JSON at line 1"):
        load_notifications(write(tmp_path, "{nope"))
    assert NotificationFile(tmp_path / "absent.json").get().routes == []  # no file: no notifications


def test_routing_by_role_and_playbook():
    rules = [NotifyRule(role="soc_tier2", channels=["a", "b"]),
             NotifyRule(playbook="containment_decision", events=["timed_out"], channels=["b", "c"]),
             NotifyRule(role="soc_manager", playbook="phishing_triage_automation", channels=["d"])]
    assert channels_for(rules, "opened", "soc_tier2", "containment_decision") == ["a", "b"]
    assert channels_for(rules, "timed_out", "soc_tier2", "containment_decision") == ["a", "b", "c"]
    assert channels_for(rules, "escalated", "soc_manager", "containment_decision") == []
    assert channels_for(rules, "escalated", "soc_manager", "phishing_triage_automation") == ["d"]


def test_users_may_carry_a_slack_id_and_a_time_zone(tmp_path):
    row = {"name": "bob", "roles": ["soc_tier2"], "token_sha256": "a" * 64}
    p = tmp_path / "users.json"
    p.write_text(json.dumps([{**row, "slack_user_id": "U024BE7LH", "timezone": "Europe/Berlin"}]))
    assert load_users(p).by_slack("U024BE7LH").name == "bob"  # type: ignore[union-attr]
    p.write_text(json.dumps([{**row, "timezone": "Mars/Olympus"}]))
    with pytest.raises(ConfigError, match="unknown time zone") as e:
        load_users(p)
    assert e.value.field == "timezone"
    p.write_text(json.dumps([{**row, "slack_user_id": "bob"}]))
    with pytest.raises(ConfigError) as e:
        load_users(p)
    assert e.value.field == "slack_user_id"
