"""A minimal, fast SMTP sink for the email benchmark: accepts every message and keeps only counts.

It speaks just enough ESMTP for smtplib and aiosmtplib (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT,
plus `XSTAT`, which answers the number of messages it accepted and of sessions that said EHLO or HELO).
It runs in a process of its own (`python -m bench.smtp_sink PORT`, on uvloop when installed) so it never
competes with the client for a GIL. aiosmtpd parses every command through several layers and would be
the bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

_END = b"\r\n.\r\n"


class _Stats:
    messages = 0
    connections = 0
    message_bytes = 0


class SinkProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transport is not a subclass
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        replies: list[bytes] = []
        while True:
            if self.in_data:
                # a message may start with ".\r\n" only when empty; the end is CRLF . CRLF
                end = buffer.find(_END)
                if end < 0:
                    if buffer.startswith(b".\r\n"):
                        end, skip = 0, 3
                    else:
                        break
                else:
                    skip = end + len(_END)
                _Stats.messages += 1
                _Stats.message_bytes += end
                del buffer[:skip]
                self.in_data = False
                replies.append(b"250 2.0.0 queued\r\n")
                continue
            newline = buffer.find(b"\r\n")
            if newline < 0:
                break
            line = bytes(buffer[:newline])
            del buffer[: newline + 2]
            replies.append(self._command(line))
            if self.in_data:
                # the reply to DATA must go out before the client sends content
                continue
        if replies:
            assert self.transport is not None
            self.transport.write(b"".join(replies))
            if replies[-1].startswith(b"221"):
                self.transport.close()

    def _command(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb == b"EHLO":
            _Stats.connections += 1
            return b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"
        if verb == b"HELO":
            _Stats.connections += 1
            return b"250 sink\r\n"
        if verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
            return b"250 2.1.0 ok\r\n"
        if verb == b"DATA":
            self.in_data = True
            return b"354 go ahead\r\n"
        if verb == b"QUIT":
            return b"221 bye\r\n"
        if verb == b"XSTA":
            return f"250 {_Stats.messages} {_Stats.connections} {_Stats.message_bytes}\r\n".encode()
        return b"502 5.5.2 not implemented\r\n"


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(SinkProtocol, "127.0.0.1", port, backlog=512)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    port = int(argv[0])
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve(port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
