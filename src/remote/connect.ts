/**
 * The client side of the transport, for the gateway (src/server/gateway/upstream.ts) and for a
 * TypeScript client without one (src/client/tls-connect.ts): one HTTP/2 session over mutual TLS 1.3
 * with the window settings of ./constants.ts, the server's certificate checked against the
 * configured name.
 */
import { connect, type ClientHttp2Session } from 'node:http2';
import { isIP } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { formatHostPort } from '../config/address.js';
import type { RemoteSection } from '../config/model.js';
import { CONFIRM_SETTING, MAX_FRAME_SIZE, STREAM_WINDOW } from './constants.js';
import type { TlsMaterial } from './material.js';

export function connectSession(remote: RemoteSection, material: TlsMaterial): ClientHttp2Session {
  const { host, port, serverName } = remote;
  return connect(`https://${formatHostPort({ host, port })}`, {
    settings: { enablePush: false, initialWindowSize: STREAM_WINDOW, maxFrameSize: MAX_FRAME_SIZE },
    remoteCustomSettings: [CONFIRM_SETTING],
    createConnection: () => {
      const socket = tlsConnect({
        host,
        port,
        cert: material.cert,
        key: material.key,
        ca: material.ca,
        minVersion: 'TLSv1.3',
        ALPNProtocols: ['h2'],
        // SNI carries a name, never an address; the certificate is checked against the configured name.
        ...(isIP(serverName) ? {} : { servername: serverName }),
        checkServerIdentity: (_host: string, certificate: PeerCertificate) =>
          checkServerIdentity(serverName, certificate),
      });
      // A call is a few small frames each way: Nagle's algorithm would hold one back for an ACK.
      socket.setNoDelay(true);
      return socket;
    },
  });
}
