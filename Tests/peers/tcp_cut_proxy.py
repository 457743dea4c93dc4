"""A loopback TCP relay whose link can be cut, to stand for a network cut between a node and
its database.

    .venv-test/bin/python Tests/peers/tcp_cut_proxy.py TARGET_HOST TARGET_PORT

prints one JSON line, {"port": int}, and relays every connection made to 127.0.0.1:port to the
target until its stdin closes. Lines on stdin steer it: `cut` stops every byte in both directions
(connections stay open and new ones are accepted, as with a black-holed route; what is sent
meanwhile is held back), `mend` lets them flow again.
"""

import asyncio
import json
import sys
import threading


async def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    flowing = asyncio.Event()
    flowing.set()
    loop = asyncio.get_running_loop()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def accepted(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(relay(client_reader, server_writer), relay(server_reader, client_writer))

    server = await asyncio.start_server(accepted, "127.0.0.1", 0)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    done = asyncio.Event()

    def steer() -> None:
        for line in sys.stdin:
            command = line.strip()
            if command == "cut":
                loop.call_soon_threadsafe(flowing.clear)
            elif command == "mend":
                loop.call_soon_threadsafe(flowing.set)
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=steer, daemon=True).start()
    await done.wait()
    server.close()


asyncio.run(main())
