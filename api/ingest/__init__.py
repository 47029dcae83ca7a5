"""Ingestion parsers: raw alerts (a reported phishing e-mail, a Splunk ES webhook) -> containers.

Pure functions, no I/O except keeping the raw e-mail on disk. The API turns `IngestError` into a 422 naming
`field`; `ParsedAlert.notes` (values skipped, caps reached) become comments on the new container.
"""

from api.ingest.common import IngestError, ParsedAlert
from api.ingest.email import parse_email
from api.ingest.splunk import parse_splunk, parse_splunk_body

__all__ = ["IngestError", "ParsedAlert", "parse_email", "parse_splunk", "parse_splunk_body"]
