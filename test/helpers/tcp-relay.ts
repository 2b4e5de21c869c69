// A TCP relay on 127.0.0.1: each connection it takes is piped to the address `target` names for it
// (one server, or several in turn). Tests keep the client-side sockets to end or reset them.
import net from 'node:net';

export interface TcpRelay {
  port: number;
  /** The relay's client-side sockets, oldest first. */
  sockets: net.Socket[];
  close(): Promise<void>;
}

export async function tcpRelay(target: () => { host: string; port: number }): Promise<TcpRelay> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    const { host, port } = target();
    const upstream = net.connect(port, host);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
    sockets.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
