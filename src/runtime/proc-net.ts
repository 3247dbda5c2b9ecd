/**
 * The TCP sockets of this network namespace, as /proc/net/tcp and tcp6 list them. Containers of a
 * Pod share one network namespace, so both ends of a loopback connection are listed here, each with
 * the uid that made it (a connection accepted by a listener: the listener's) and its inode (0 once
 * no process holds it any more). The server asks whether a client is still there
 * (src/server/peer-watch.ts), a client whose listener it reached (src/client/listener.ts).
 */
import { readFileSync } from 'node:fs';

export interface TcpSocket {
  /** `ADDRESS:PORT` in the kernel's hex, as the file writes it (see endpoint()). */
  local: string;
  remote: string;
  uid: number;
  inode: number;
}

/** Every TCP socket listed now, IPv4 then IPv6; none when /proc cannot be read. */
export function tcpSockets(): TcpSocket[] {
  const sockets: TcpSocket[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      // No IPv6, or no /proc: nothing listed there.
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
      const fields = line.trim().split(/\s+/);
      if (fields.length > 9)
        sockets.push({
          local: fields[1]!,
          remote: fields[2]!,
          uid: Number(fields[7]),
          inode: Number(fields[9]),
        });
    }
  }
  return sockets;
}

/**
 * An IPv4 endpoint as /proc/net/tcp writes it (127.0.0.1:2102 is `0100007F:0836`: each 32-bit word
 * of an address in host order, little-endian on every architecture we build for), and as tcp6 writes
 * the same address IPv4-mapped; [] for anything else.
 */
export function endpoints(address: string | undefined, port: number | undefined): string[] {
  const v4 = address && /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(address);
  if (!v4 || !port) return [];
  const word = [4, 3, 2, 1].map((i) => Number(v4[i]).toString(16).toUpperCase().padStart(2, '0')).join('');
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return [`${word}:${hexPort}`, `0000000000000000FFFF0000${word}:${hexPort}`];
}
