"""AbuseIPDB actions: ip reputation and test connectivity."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from activities.abuseipdb.client import AbuseIPDBClient
from activities.abuseipdb.config import AbuseIPDBConfig
from core.cef import validate_ip
from core.connector import ActionContext, action
from core.models import ActionResult
from core.params import NoParams, plain

# The row keeps the check object minus the (verbose-only, unbounded) report list.
DROP_KEYS = ("reports",)
Ctx = ActionContext[AbuseIPDBConfig, AbuseIPDBClient]


class IpParams(BaseModel):
    """Parameters of `ip reputation` (Splunk's AbuseIPDB app: `lookup ip` with `ip` and `days`)."""

    model_config = ConfigDict(extra="forbid")
    ip: str = Field(description="IPv4 or IPv6 address")
    days: int = Field(default=30, ge=1, le=365, description="Only count reports of the last N days (1-365)")

    @field_validator("ip", mode="before")
    @classmethod
    def _ip(cls, v: Any) -> str:
        return plain(validate_ip, "ip", v)


@action("ip reputation", params=IpParams, read_only=True, target="ip", aliases=("lookup ip",))
async def ip_reputation(ctx: Ctx, p: IpParams) -> ActionResult:
    """Check an IP against AbuseIPDB's reports (GET /check)."""
    data = await ctx.client.check(p.ip, p.days)
    summary = {
        "abuse_confidence_score": data["abuseConfidenceScore"],
        "total_reports": data.get("totalReports", 0),
        "country_code": data.get("countryCode"),
        "num_distinct_users": data.get("numDistinctUsers", 0),
        "is_public": data.get("isPublic"),
        "is_whitelisted": data.get("isWhitelisted"),
        "last_reported_at": data.get("lastReportedAt"),
        "reports_found": data.get("totalReports", 0),  # the Splunk AbuseIPDB app's summary key
    }
    row = {k: v for k, v in data.items() if k not in DROP_KEYS}
    return ActionResult(message=f"Confidence: {summary['abuse_confidence_score']}%", summary=summary,
                        data=[{"max_age_in_days": p.days, **row}])


@action("test connectivity", params=NoParams, read_only=True)
async def test_connectivity(ctx: Ctx, p: NoParams) -> ActionResult:
    """Check the API key with a one-day check of 127.0.0.1 (what the Splunk SOAR app checks)."""
    await ctx.client.check("127.0.0.1", 1)
    return ActionResult(message=f"Connected to AbuseIPDB at {ctx.config.base_url}; API key accepted")
