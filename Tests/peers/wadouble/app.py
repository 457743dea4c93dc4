"""Starts the double's listeners in one asyncio loop and prints the startup line."""
from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile

from websockets.asyncio.server import serve

from .control import control_api
from .noise import root_public_key
from .registry import Registry
from .session import Server
from .cdn import MEDIA_HOSTS
from .transport import ORIGIN, http_connect_proxy, make_certificates, router, socks5_proxy


def _check_request(connection, request):
    """Refuses the upgrade (HTTP 403) for a path other than /ws/chat or a wrong Origin."""
    if request.path != "/ws/chat" or request.headers.get("Origin") != ORIGIN:
        return connection.respond(403, "unexpected path or origin\n")
    return None


async def _stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.buffer.read)


async def run(seed: str, state_file: str | None, directory: str | None) -> None:
    directory = directory or tempfile.mkdtemp(prefix="wa-double-")
    ca_file, tls = make_certificates(directory)
    server = Server(seed, Registry(seed, state_file))
    async with serve(server.handle_websocket, "127.0.0.1", 0, ssl=tls, max_size=None, process_request=_check_request,
                     ping_interval=None, compression=None) as websocket_server:
        ws_port = websocket_server.sockets[0].getsockname()[1]
        cdn = await asyncio.start_server(server.cdn.handle, "127.0.0.1", 0, ssl=tls)
        cdn_port = cdn.sockets[0].getsockname()[1]
        route = router(ws_port, cdn_port, MEDIA_HOSTS)
        proxy = await asyncio.start_server(http_connect_proxy(route, server.tunnels), "127.0.0.1", 0)
        socks = await asyncio.start_server(socks5_proxy(route, server.tunnels, server.proxy_settings), "127.0.0.1", 0)
        control = await asyncio.start_server(control_api(server), "127.0.0.1", 0)
        print(json.dumps({
            "proxyPort": proxy.sockets[0].getsockname()[1],
            "wsPort": ws_port,
            "controlPort": control.sockets[0].getsockname()[1],
            "caFile": ca_file,
            "noiseRootPublicKey": root_public_key(seed).hex(),
            "socksPort": socks.sockets[0].getsockname()[1],
            "cdnPort": cdn_port,
        }), flush=True)
        await _stdin_closed()
    os._exit(0)
