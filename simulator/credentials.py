"""The simulator's documented demo credentials, and the environment the example assets read them from.

These are demo values for the local simulator only; real deployments set the variables themselves.
"""

from __future__ import annotations

VT_API_KEY = "sim-vt-key-0123456789"
ABUSEIPDB_API_KEY = "sim-abuseipdb-key-0123456789"
CS_CLIENT_ID = "sim-cs-client-id"
CS_CLIENT_SECRET = "sim-cs-client-secret-0123456789"
PAN_USERNAME = "admin"
PAN_PASSWORD = "sim-pan-password-0123"
PAN_API_KEY = "LUFRPT1TaW1QYW5LZXk9PQ=="
SNOW_USERNAME = "soar.integration"
SNOW_PASSWORD = "sim-snow-password-0123"
MAXMIND_ACCOUNT_ID = "123456"
MAXMIND_LICENSE_KEY = "sim-maxmind-license-0123"
# Active Directory (simulator/active_directory.py): the bind account the example asset uses (its password
# is the value deploy/demo/demo.env already carries), and the password of the directory's ordinary users.
AD_BIND_USER = "svc-soar@corp.example.com"
AD_PASSWORD = "Adm1nPassw0rd!"
AD_USER_PASSWORD = "Us3rPassw0rd!"

# Notification sinks (simulator/notify_sinks.py, simulator/smtp_server.py): the secret part of each webhook URL,
# Slack's signing secret (the simulator signs button clicks as Slack does), the webhook HMAC key, SMTP login.
SLACK_WEBHOOK_TOKEN = "sim-slack-hook-token-0123456789"
SLACK_SIGNING_SECRET = "sim-slack-signing-secret-0123456789"
TEAMS_WEBHOOK_TOKEN = "sim-teams-hook-token-0123456789"
WEBHOOK_SECRET = "sim-webhook-hmac-secret-0123456789"
SMTP_USERNAME = "soar-notify"
SMTP_PASSWORD = "sim-smtp-password-0123"


def notification_env(sim_url: str) -> dict[str, str]:
    """The variables the demo notifications file (`demo_notifications`) reads, for a simulator at `sim_url`."""
    return {
        "SLACK_WEBHOOK_URL": f"{sim_url}/sinks/slack/services/T0SIM/B0SIM/{SLACK_WEBHOOK_TOKEN}",
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "TEAMS_WEBHOOK_URL": f"{sim_url}/sinks/teams/webhookb2/{TEAMS_WEBHOOK_TOKEN}",
        "SOAR_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SMTP_PASSWORD": SMTP_PASSWORD,
    }


def demo_notifications(sim_url: str, smtp_host: str, smtp_port: int, ca_file: str | None = None) -> dict[str, object]:
    """A notifications.json sending every prompt event to the simulator's Slack, Teams, webhook and SMTP
    sinks (secrets as references to `notification_env`)."""
    email: dict[str, object] = {
        "name": "soc-mail", "type": "email", "host": smtp_host, "port": smtp_port, "username": SMTP_USERNAME,
        "password": "${SMTP_PASSWORD}", "from": "soar@corp.example.com", "to": ["soc-tier2@corp.example.com"]}
    email |= {"ca_file": ca_file} if ca_file else {"verify_tls": False}
    return {
        "channels": [
            {"name": "soc-slack", "type": "slack", "webhook_url": "${SLACK_WEBHOOK_URL}",
             "signing_secret": "${SLACK_SIGNING_SECRET}"},
            {"name": "soc-teams", "type": "teams", "webhook_url": "${TEAMS_WEBHOOK_URL}"},
            {"name": "soc-hook", "type": "webhook", "url": f"{sim_url}/sinks/webhook/soar",
             "secret": "${SOAR_WEBHOOK_SECRET}"},
            email,
        ],
        "routes": [
            {"role": "soc_tier2", "channels": ["soc-slack", "soc-teams", "soc-hook", "soc-mail"]},
            {"role": "soc_manager", "channels": ["soc-slack", "soc-mail"]},
        ],
    }


# Variables referenced as "${NAME}" by config/assets.json.
DEMO_ENV: dict[str, str] = {
    "VT_API_KEY": VT_API_KEY,
    "ABUSEIPDB_API_KEY": ABUSEIPDB_API_KEY,
    "CS_CLIENT_ID": CS_CLIENT_ID,
    "CS_CLIENT_SECRET": CS_CLIENT_SECRET,
    "PAN_PASSWORD": PAN_PASSWORD,
    "SNOW_PASSWORD": SNOW_PASSWORD,
    "MAXMIND_LICENSE_KEY": MAXMIND_LICENSE_KEY,
    "AD_PASSWORD": AD_PASSWORD,
}
