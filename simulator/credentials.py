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
