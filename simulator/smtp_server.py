"""An SMTP sink over a real socket (RFC 5321 with STARTTLS, RFC 3207, and AUTH PLAIN/LOGIN, RFC 4954), on the
simulator's own asyncio loop like the LDAP listener, so e-mail notifications travel the real wire.

A submission server as mail providers run it: AUTH is offered only after STARTTLS, MAIL needs a login, and
the session starts over after TLS (the client must EHLO again). Faults (`POST /_sim/faults` with vendor
`smtp`) answer MAIL FROM with the fault's status as the SMTP reply code (e.g. 451 to defer, 550 to refuse).

Side effects (GET /_sim/state):
    effects.smtp.messages   [{"from", "to", "user", "tls", "subject", "body", "headers", "t"}]
    effects.smtp.logins     {"ok": n, "refused": n}
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import ssl
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from simulator import credentials
from simulator.core import SimState, admit

log = logging.getLogger(__name__)
HOSTNAME = "smtp.sim.example"
MAX_LINE = 8192
MAX_MESSAGE = 10 * 1024 * 1024
IDLE_TIMEOUT_S = 300.0
MAX_RECORDED = 2000


@dataclass
class _Session:
    tls: bool = False
    user: str | None = None
    sender: str | None = None
    rcpt: list[str] = field(default_factory=list)


class SmtpSink:
    """The SMTP listener. `tls` is the server context STARTTLS upgrades with; `pem` its certificate."""

    def __init__(self, sim: SimState, host: str, port: int, tls: ssl.SSLContext, pem: str) -> None:
        self.sim, self.host, self.port, self.tls, self.pem = sim, host, port, tls, pem
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self) -> SmtpSink:
        """Listen (port 0: any free port, see `port`).

        Raises:
            OSError: the port is taken (the message names the setting that moves it).
        """
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_LINE * 2)
        except OSError as e:
            raise OSError(e.errno, f"cannot listen for SMTP on {self.host}:{self.port} ({e.strerror}); set "
                                   "SOAR_SIMULATOR_SMTP_PORT (or `soar simulator --smtp-port`) to a free port") from e
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def info(self) -> dict[str, Any]:
        """Where it listens and the certificate STARTTLS presents (to trust it as a CA file)."""
        return {"host": self.host, "port": self.port, "starttls": True, "certificate": self.pem}

    async def close(self) -> None:
        """Stop listening and drop open sessions."""
        if self._server is not None:
            self._server.close()
        for w in list(self._conns):
            w.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        s = _Session()
        try:
            await _send(writer, f"220 {HOSTNAME} ESMTP SOAR simulator")
            while True:
                line = await asyncio.wait_for(reader.readline(), IDLE_TIMEOUT_S)
                if not line:
                    return
                verb, _, arg = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
                keep = await self._command(verb.upper(), arg.strip(), s, reader, writer)
                if not keep:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, TimeoutError, ValueError):
            pass  # the client went away, idled out or sent an over-long line
        finally:
            self._conns.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _command(self, verb: str, arg: str, s: _Session, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> bool:
        if verb in ("EHLO", "HELO"):
            s.sender, s.rcpt = None, []
            ext = ["SIZE 10485760", "8BITMIME", "PIPELINING"] + (["AUTH PLAIN LOGIN"] if s.tls else ["STARTTLS"])
            lines = [HOSTNAME, *ext] if verb == "EHLO" else [HOSTNAME]
            await _send(writer, *[f"250{'-' if i < len(lines) - 1 else ' '}{x}" for i, x in enumerate(lines)])
        elif verb == "STARTTLS":
            if s.tls:
                await _send(writer, "503 5.5.1 TLS already active")
                return True
            await _send(writer, "220 2.0.0 Ready to start TLS")
            await writer.start_tls(self.tls)
            s.tls, s.user, s.sender, s.rcpt = True, None, None, []  # RFC 3207: forget what was said before TLS
        elif verb == "AUTH":
            await self._auth(arg, s, reader, writer)
        elif verb == "MAIL":
            await self._mail(arg, s, writer)
        elif verb == "RCPT":
            if s.sender is None:
                await _send(writer, "503 5.5.1 MAIL first")
            else:
                s.rcpt.append(_address(arg))
                await _send(writer, "250 2.1.5 OK")
        elif verb == "DATA":
            await self._data(s, reader, writer)
        elif verb in ("RSET", "NOOP"):
            if verb == "RSET":
                s.sender, s.rcpt = None, []
            await _send(writer, "250 2.0.0 OK")
        elif verb == "QUIT":
            await _send(writer, "221 2.0.0 Bye")
            return False
        else:
            await _send(writer, "502 5.5.2 Command not recognized")
        return True

    async def _auth(self, arg: str, s: _Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not s.tls:
            await _send(writer, "530 5.7.0 Must issue a STARTTLS command first")
            return
        mech, _, initial = arg.partition(" ")
        try:
            if mech.upper() == "PLAIN":
                if not initial:
                    await _send(writer, "334 ")
                    initial = (await reader.readline()).decode().strip()
                _, user, password = base64.b64decode(initial, validate=True).decode().split("\0")
            elif mech.upper() == "LOGIN":
                await _send(writer, "334 VXNlcm5hbWU6")
                user = base64.b64decode((await reader.readline()).strip(), validate=True).decode()
                await _send(writer, "334 UGFzc3dvcmQ6")
                password = base64.b64decode((await reader.readline()).strip(), validate=True).decode()
            else:
                await _send(writer, "504 5.5.4 Unrecognized authentication type")
                return
        except (binascii.Error, UnicodeDecodeError, ValueError):
            await _send(writer, "501 5.5.2 Cannot decode the credentials")
            return
        logins = self.sim.effect("smtp", "logins", {"ok": 0, "refused": 0})
        if (user, password) != (credentials.SMTP_USERNAME, credentials.SMTP_PASSWORD):
            logins["refused"] += 1
            await _send(writer, "535 5.7.8 Authentication credentials invalid")
            return
        logins["ok"] += 1
        s.user = user
        await _send(writer, "235 2.7.0 Authentication successful")

    async def _mail(self, arg: str, s: _Session, writer: asyncio.StreamWriter) -> None:
        if s.user is None:
            await _send(writer, "530 5.7.0 Authentication required")
            return
        fault, _ = await admit(self.sim, "smtp")
        if fault is not None and fault.status is not None:
            await _send(writer, f"{fault.status} {'4' if fault.status < 500 else '5'}.3.0 {fault.message}")
            return
        s.sender, s.rcpt = _address(arg), []
        await _send(writer, "250 2.1.0 OK")

    async def _data(self, s: _Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if s.sender is None or not s.rcpt:
            await _send(writer, "503 5.5.1 MAIL and RCPT first")
            return
        await _send(writer, "354 End data with <CR><LF>.<CR><LF>")
        chunks: list[bytes] = []
        size = 0
        while True:
            line = await reader.readline()
            if not line or line in (b".\r\n", b".\n"):
                break
            size += len(line)
            if size <= MAX_MESSAGE:
                chunks.append(line[1:] if line.startswith(b"..") else line)  # dot-unstuffing
        if size > MAX_MESSAGE:
            await _send(writer, "552 5.3.4 Message too big")
            return
        self._record(s, b"".join(chunks))
        s.sender, s.rcpt = None, []
        await _send(writer, f"250 2.0.0 OK queued as SIM{int(time.time() * 1000)}")

    def _record(self, s: _Session, raw: bytes) -> None:
        msg = message_from_bytes(raw, policy=policy.default)
        body = msg.get_body(("plain",)) if isinstance(msg, EmailMessage) else None
        rows: list[dict[str, Any]] = self.sim.effect("smtp", "messages", [])
        if len(rows) < MAX_RECORDED:
            rows.append({"from": s.sender, "to": list(s.rcpt), "user": s.user, "tls": s.tls,
                         "subject": str(msg.get("Subject", "")), "headers": {k: str(v) for k, v in msg.items()},
                         "body": body.get_content() if body is not None else "", "t": time.time()})


def _address(arg: str) -> str:
    """`FROM:<a@b> SIZE=12` -> `a@b`."""
    value = arg.split(":", 1)[-1].strip()
    return value.split(">", 1)[0].lstrip("<") if value.startswith("<") else value.split(" ", 1)[0]


async def _send(writer: asyncio.StreamWriter, *lines: str) -> None:
    writer.write("".join(f"{x}\r\n" for x in lines).encode())
    await writer.drain()


async def start_smtp(sim: SimState, host: str, port: int) -> SmtpSink:
    """Start the SMTP sink on the running loop, with a fresh self-signed certificate for STARTTLS.

    Raises:
        OSError: the port is taken.
    """
    from simulator.ldap_server import self_signed_tls

    ips = ["127.0.0.1", "::1"] + ([host] if host not in ("127.0.0.1", "::1", "0.0.0.0", "localhost") else [])
    names = [HOSTNAME, "localhost", "simulator"]
    try:
        tls, pem = self_signed_tls(names, ips)
    except ValueError:  # a host name, not an address
        tls, pem = self_signed_tls([*names, host], ["127.0.0.1", "::1"])
    return await SmtpSink(sim, host, port, tls, pem).start()
