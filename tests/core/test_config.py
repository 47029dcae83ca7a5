"""Every broken config form gives a clear error naming the file, the entry, the field and the fix."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from activities import discover_connectors
from core.config.assets import load_assets
from core.config.triggers import load_triggers, match_triggers
from core.config.users import hash_token, load_users, write_demo_users
from core.errors import ConfigError
from core.models import Container, Severity
from core.settings import ROOT
from workflows.registry import PLAYBOOKS

VT = {"app": "VirusTotal v3", "asset_name": "vt", "configuration": {"api_key": "${VT_API_KEY}"},
      "product_vendor": "VirusTotal", "product_name": "VirusTotal"}


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


CONNECTORS = discover_connectors()


def test_example_configs_load():
    assets = load_assets(ROOT / "config" / "assets.json", CONNECTORS)
    assert {"virustotal", "crowdstrike", "pan_fw", "servicenow"} <= set(assets) and not assets.unavailable
    triggers = load_triggers(ROOT / "config" / "triggers.json", PLAYBOOKS)
    assert {t.playbook_name for t in triggers} == set(PLAYBOOKS)
    assert load_users(ROOT / "config" / "users.json").users == []  # no live token ships in the repository
    example = json.loads((ROOT / "config" / "users.example.json").read_text())
    assert {u["name"] for u in example} == {"automation_user", "alice", "bob", "carol"}


def test_demo_tokens_work_only_in_dev_mode(tmp_path):
    demo = write_demo_users(tmp_path / "users.json")
    with pytest.raises(ConfigError, match="public demo token") as e:
        load_users(demo)
    assert "SOAR_DEV_MODE=1" in str(e.value) and "Fix:" in str(e.value)
    users = load_users(demo, dev_mode=True)
    assert users.authenticate("demo-tier2-token").name == "bob"
    assert users.authenticate("nope") is None


def test_the_api_refuses_to_serve_demo_tokens_outside_dev_mode(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SOAR_DEV_MODE"}
    env["SOAR_USERS_FILE"] = str(write_demo_users(tmp_path / "users.json"))
    r = subprocess.run([sys.executable, "-c", "from api.app import create_app; create_app()"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "public demo token" in r.stderr
    w = subprocess.run([sys.executable, "worker.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert w.returncode == 2 and "public demo token" in w.stderr


@pytest.mark.parametrize("data, field, words", [
    ("[{", None, "invalid JSON at line 1"),
    ({"a": 1}, None, "not a list"),
    ([42], None, "expected a JSON object"),
    ([{**VT, "asset_name": None}], "asset_name", "missing or invalid asset_name"),
    ([{**VT, "asset_name": "../etc"}], "asset_name", "invalid asset_name"),
    ([VT, VT], "asset_name", "duplicate asset name"),
])
def test_broken_assets_file(tmp_path, data, field, words):
    """What makes the whole file unusable stops the start, naming file, entry, field and fix."""
    p = write(tmp_path, "assets.json", data)
    with pytest.raises(ConfigError) as e:
        load_assets(p, CONNECTORS)
    msg = str(e.value)
    assert str(p) in msg and "Fix:" in msg and words in msg
    assert e.value.field == field


@pytest.mark.parametrize("conf, field, words", [
    ({"app": "VirusTotal v9"}, "app", "unknown app 'VirusTotal v9'"),
    ({"configuration": {"api_key": "${NOT_SET_ANYWHERE_123}"}}, "configuration.api_key",
     "environment variable NOT_SET_ANYWHERE_123 is not set"),
    ({"configuration": {"api_key": "file:/nonexistent/secret"}}, "configuration.api_key", "cannot read secret file"),
    ({"configuration": {"api_key": "${VT_API_KEY}", "timeout_s": "soon"}}, "configuration.timeout_s", ""),
    ({"configuration": {"api_key": "${VT_API_KEY}", "max_requests_per_minute": 0}},
     "configuration.max_requests_per_minute", ""),
    ({"configuration": {}}, "configuration.api_key", "Field required"),
    ({"configuration": "api_key=1"}, "configuration", "must be a JSON object"),
])
def test_broken_asset_is_unavailable_and_the_others_load(tmp_path, conf, field, words):
    """One wrong asset is marked unavailable with its reason; every other asset still loads."""
    good = {**VT, "asset_name": "vt_ok"}
    p = write(tmp_path, "assets.json", [{**VT, **conf}, good])
    assets = load_assets(p, CONNECTORS)
    assert set(assets) == {"vt_ok"} and set(assets.unavailable) == {"vt"}
    u = assets.unavailable["vt"]
    assert u.field == field and words in u.reason and "Fix:" in u.reason and str(p) in u.reason


def test_rate_limit_without_a_rate_needs_one_except_where_the_app_defines_it(tmp_path):
    # Splunk's VirusTotal v3 app: rate_limit alone means the public API's 4 requests a minute.
    vt = load_assets(write(tmp_path, "a.json", [{**VT, "configuration": {"api_key": "k", "rate_limit": True}}]),
                     CONNECTORS)["vt"]
    assert vt.rate_limited and vt.settings.max_requests_per_minute == 4
    abuse = {"app": "AbuseIPDB", "asset_name": "ab", "configuration": {"api_key": "k", "rate_limit": True}}
    assets = load_assets(write(tmp_path, "b.json", [abuse]), CONNECTORS)
    assert assets.unavailable["ab"].field == "configuration.max_requests_per_minute"
    assert "rate_limit is true" in assets.unavailable["ab"].reason


def test_unknown_key_is_a_warning_naming_asset_and_key(tmp_path, caplog):
    p = write(tmp_path, "assets.json", [{**VT, "configuration": {"api_key": "${VT_API_KEY}", "api_kye": "x"}}])
    with caplog.at_level(logging.WARNING):
        assets = load_assets(p, CONNECTORS)
    assert "vt" in assets and not assets.unavailable
    assert "asset 'vt': configuration.api_kye is not a setting of the VirusTotal v3 connector; ignored" in caplog.text


def test_missing_assets_file_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_assets(tmp_path / "nope.json", CONNECTORS)
    assert "not found" in str(e.value) and "SOAR_ASSETS_FILE" in str(e.value)


def test_literal_secret_is_accepted_with_a_warning(tmp_path, caplog):
    p = write(tmp_path, "assets.json", [{**VT, "configuration": {"api_key": "literal-key-123"}}])
    with caplog.at_level(logging.WARNING):
        assets = load_assets(p, CONNECTORS)
    assert assets["vt"].settings.api_key.get_secret_value() == "literal-key-123"
    assert "literal secret" in caplog.text and "literal-key-123" not in caplog.text
    assert assets["vt"].configuration_redacted["api_key"] == "***"


def test_secret_from_file_and_rate_limit_queue(tmp_path):
    secret = write(tmp_path, "vt.key", "file-key-456\n")
    p = write(tmp_path, "assets.json", [{**VT, "configuration": {"api_key": f"file:{secret}", "rate_limit": True,
                                                                  "max_requests_per_minute": 4}}])
    a = load_assets(p, CONNECTORS)["vt"]
    assert a.settings.api_key.get_secret_value() == "file-key-456"
    assert a.rate_limited and a.per_second == pytest.approx(4 / 60)


TRIG = {"playbook_name": "phishing_triage_automation",
        "trigger": {"type": "event_created", "conditions": {"label": ["phishing"], "severity": ["high", "medium"]}},
        "active": True, "run_as": "automation_user"}


@pytest.mark.parametrize("data, field, words", [
    ([{**TRIG, "playbook_name": "no_such_playbook"}], "playbook_name", "unknown playbook 'no_such_playbook'"),
    ([{**TRIG, "trigger": {"type": "event_updated"}}], "trigger.type", ""),
    ([{**TRIG, "trigger": {"conditions": {"colour": ["red"]}}}], "trigger.conditions.colour", "unknown condition key"),
    ([{**TRIG, "active": "maybe"}], "active", ""),
    ([{**TRIG, "extra": 1}], "extra", ""),
])
def test_broken_triggers(tmp_path, data, field, words):
    p = write(tmp_path, "triggers.json", data)
    with pytest.raises(ConfigError) as e:
        load_triggers(p, PLAYBOOKS)
    assert e.value.field == field and words in str(e.value) and "trigger #0" in str(e.value)


def test_trigger_matching(tmp_path):
    triggers = load_triggers(write(tmp_path, "t.json", [TRIG, {**TRIG, "active": False,
                                                                "playbook_name": "containment_decision"}]), PLAYBOOKS)
    hit = Container(name="x", label="phishing", severity=Severity.HIGH)
    miss = Container(name="x", label="phishing", severity=Severity.LOW)
    assert [t.playbook_name for t in match_triggers(triggers, hit)] == ["phishing_triage_automation"]
    assert match_triggers(triggers, miss) == []


@pytest.mark.parametrize("data, field, words", [
    ([{"name": "a", "roles": [], "token_sha256": "abc"}], "token_sha256", "64-character hex"),
    ([{"name": "a", "roles": [], "token_sha256": hash_token("t")},
      {"name": "a", "roles": [], "token_sha256": hash_token("u")}], "name", "duplicate user"),
    ([{"name": "a", "roles": [], "token_sha256": hash_token("t")},
      {"name": "b", "roles": [], "token_sha256": hash_token("t")}], "token_sha256", "share one token"),
    ([{"name": "bad name!", "roles": [], "token_sha256": hash_token("t")}], "name", ""),
])
def test_broken_users(tmp_path, data, field, words):
    with pytest.raises(ConfigError) as e:
        load_users(write(tmp_path, "users.json", data))
    assert e.value.field == field and words in str(e.value)


def test_broken_config_exits_with_a_clear_error_not_a_traceback(tmp_path):
    p = write(tmp_path, "assets.json", "[{")
    r = subprocess.run([sys.executable, "-m", "cli.main", "asset", "list", "--assets", str(p)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "invalid JSON at line 1" in r.stderr and "Traceback" not in r.stderr


def test_asset_list_shows_an_unavailable_asset_with_its_reason(tmp_path):
    p = write(tmp_path, "assets.json", [{**VT, "app": "Nope"}, {**VT, "asset_name": "vt_ok"}])
    r = subprocess.run([sys.executable, "-m", "cli.main", "asset", "list", "--assets", str(p)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "vt_ok" in r.stdout and "UNAVAILABLE" in r.stdout and "unknown app 'Nope'" in r.stdout


def test_trigger_file_reloads_when_the_file_changes(tmp_path):
    from core.config.triggers import TriggerFile

    p = write(tmp_path, "triggers.json", [TRIG])
    tf = TriggerFile(p, PLAYBOOKS)
    first = tf.get()
    assert [t.playbook_name for t in first] == [TRIG["playbook_name"]] and tf.get() is first  # cached
    phishing = Container(name="x", label="phishing", severity=Severity.HIGH)
    assert [t.playbook_name for t in tf.match(phishing)] == [TRIG["playbook_name"]]
    write(tmp_path, "triggers.json", [{**TRIG, "active": False}, TRIG])  # another size: reloaded
    assert len(tf.get()) == 2
    write(tmp_path, "triggers.json", [{**TRIG, "trigger": {"conditions": {"colour": ["red"]}}}])
    with pytest.raises(ConfigError):
        tf.get()
    with pytest.raises(ConfigError):
        tf.get()  # a broken file keeps failing: the old triggers are not served
