"""LOCAL TEST FIXTURE — not a product feature, never a way to secure a real Elasticsearch.

The local Elasticsearch node is built without Elastic's security module, so ``newsflow stack up
--secure`` puts this small TLS-terminating, auth-checking reverse proxy (aiohttp) in front of a
node that listens on a private loopback port. Clients then meet what a secured cluster shows
them: HTTPS with a certificate from a private CA, and a 401 unless the request carries either
``Authorization: Basic <base64 user:password>`` or ``Authorization: ApiKey <base64 id:key>``
(Elastic Cloud's "encoded" API key). It binds to loopback only and reads its secrets from a
0600 JSON file, never from its command line; it never logs a header or a credential.

Run by the secure stack as ``python -m newsflow.stack.tls_proxy --config <file>``."""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hmac
import json
import logging
import signal
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# Large enough for the indexer's bulk requests (aiohttp's default is 1 MiB).
MAX_BODY_BYTES = 256 * 1024 * 1024
# Headers that belong to one hop (or that the proxy consumes) and are not forwarded.
HOP_HEADERS = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
log = logging.getLogger("newsflow.tls_proxy")


@dataclass(frozen=True)
class ProxyConfig:
    listen_host: str
    listen_port: int
    upstream: str
    cert_file: Path
    key_file: Path
    users: dict[str, str]
    api_keys: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> ProxyConfig:
        data = json.loads(path.read_text())
        cfg = cls(
            listen_host=data["listen_host"],
            listen_port=int(data["listen_port"]),
            upstream=data["upstream"].rstrip("/"),
            cert_file=Path(data["cert_file"]),
            key_file=Path(data["key_file"]),
            users=dict(data.get("users", {})),
            api_keys=dict(data.get("api_keys", {})),
        )
        if cfg.listen_host not in LOOPBACK:
            raise SystemExit(
                f"tls_proxy is a local test fixture: refusing to bind {cfg.listen_host}"
            )
        return cfg


def _decoded_pair(token: str) -> tuple[str, str] | None:
    try:
        text = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    name, sep, secret = text.partition(":")
    return (name, secret) if sep else None


def is_authorized(header: str | None, users: dict[str, str], api_keys: dict[str, str]) -> bool:
    """Basic (user:password) or ApiKey (id:key), both base64, compared in constant time."""
    scheme, _, token = (header or "").partition(" ")
    table = {"basic": users, "apikey": api_keys}.get(scheme.lower())
    pair = _decoded_pair(token) if table is not None else None
    if table is None or pair is None or pair[0] not in table:
        return False
    return hmac.compare_digest(table[pair[0]].encode(), pair[1].encode())


def _unauthorized(path: str) -> web.Response:
    # The shape Elasticsearch's security module answers with (elasticsearch-py reads `error`).
    reason = f"missing or invalid authentication credentials for REST request [{path}]"
    body = {
        "error": {
            "root_cause": [{"type": "security_exception", "reason": reason}],
            "type": "security_exception",
            "reason": reason,
        },
        "status": 401,
    }
    response = web.json_response(body, status=401)
    response.headers.add("WWW-Authenticate", 'Basic realm="security", charset="UTF-8"')
    response.headers.add("WWW-Authenticate", "ApiKey")
    return response


def make_app(cfg: ProxyConfig) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)

    async def open_session(app: web.Application) -> Any:
        # auto_decompress off: bodies pass through byte for byte with their Content-Encoding.
        app["session"] = ClientSession(
            auto_decompress=False, timeout=ClientTimeout(total=None, sock_connect=10)
        )
        yield
        await app["session"].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        if not is_authorized(request.headers.get("Authorization"), cfg.users, cfg.api_keys):
            return _unauthorized(request.path)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        body = await request.read()
        session: ClientSession = request.app["session"]
        async with session.request(
            request.method,
            cfg.upstream + request.rel_url.raw_path_qs,
            headers=headers,
            data=body if body else None,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
            return web.Response(status=upstream.status, body=payload, headers=out)

    app.cleanup_ctx.append(open_session)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def server_ssl_context(cfg: ProxyConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cfg.cert_file), str(cfg.key_file))
    return context


async def serve(cfg: ProxyConfig) -> None:
    runner = web.AppRunner(make_app(cfg), access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner, cfg.listen_host, cfg.listen_port, ssl_context=server_ssl_context(cfg)
    )
    await site.start()
    log.warning(
        "tls_proxy (local test fixture) on https://%s:%d -> %s",
        cfg.listen_host,
        cfg.listen_port,
        cfg.upstream,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local TLS + auth test proxy for Elasticsearch.")
    parser.add_argument("--config", type=Path, required=True, help="0600 JSON file")
    # The stack's -Dnewsflow.stack.* process markers ride along on the command line; ignore them.
    args, _markers = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(ProxyConfig.load(args.config)))


if __name__ == "__main__":
    main()
