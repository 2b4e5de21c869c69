import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from '../../src/db/embedded.ts';

// A port a test's server keeps across its restarts (a hub started, stopped and started again on the
// same --port). A port the kernel picks (listen on 0) is one of those it also gives outgoing
// connections: while the server was down, any process's connection could take it. So it is chosen
// below that range. (A restart has also failed so on a port below it, once: that cause is not found;
// startBackground then says what holds the port.)

/** The first port the kernel gives outgoing connections (Linux says; elsewhere the usual 32768 or more). */
function ephemeralFrom(): number {
  try {
    const from = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(from) && from > 0) return from;
  } catch {
    // not Linux
  }
  return 32768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port from 10000 up to the ephemeral range, at random (tests pick at once); the kernel's pick if none is. */
export async function restartablePort(): Promise<number> {
  const [from, to] = [10_000, ephemeralFrom()];
  for (let i = 0; i < 50 && to > from; i++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (await canListen(port)) return port;
  }
  return freePort();
}
