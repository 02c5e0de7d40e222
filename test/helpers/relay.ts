// A loopback TCP relay a test can pause: while paused, open connections are reset and new ones are closed at
// once, so whatever talks through it loses its peer for exactly as long as the test says.

import net from 'node:net';

export interface Relay {
  readonly port: number;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number, host = '127.0.0.1'): Promise<Relay> {
  let paused = false;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (paused) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(targetPort, host);
    open.add(client);
    open.add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    pause() {
      paused = true;
      for (const s of open) s.resetAndDestroy();
      open.clear();
    },
    resume() {
      paused = false;
    },
    close() {
      paused = true;
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
