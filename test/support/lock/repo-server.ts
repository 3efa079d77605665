/**
 * A folder served over HTTP on the loopback, as a CRAN-like repository is: `GET /<path>`
 * returns the file, 404 otherwise. Counts requests by path so tests can see what was fetched.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";

export interface RepoServer {
  /** `https://127.0.0.1:<port>` (or http) */
  readonly url: string;
  readonly requests: Map<string, number>;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1; children trust it through NODE_EXTRA_CA_CERTS. */
export async function loopbackCertificate(dir: string): Promise<{ key: string; cert: string; certFile: string }> {
  const keyFile = join(dir, "key.pem");
  const certFile = join(dir, "cert.pem");
  await promisify(execFile)("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "2",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
  ]);
  return { key: await readFile(keyFile, "utf8"), cert: await readFile(certFile, "utf8"), certFile };
}

/** Serves `root` over HTTPS (with `tls`) or plain HTTP. */
export async function serveFolder(root: string, tls?: { key: string; cert: string }): Promise<RepoServer> {
  const requests = new Map<string, number>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname);
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const file = normalize(join(root, path));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { "content-length": body.length }).end(body),
      () => res.writeHead(404).end("not found"),
    );
  };
  const server = tls ? createTlsServer(tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A temporary folder with a loopback certificate in it, removed by `dispose`. */
export async function withCertificate(): Promise<{ key: string; cert: string; certFile: string; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "rll-cert-"));
  return { ...(await loopbackCertificate(dir)), dispose: () => rm(dir, { recursive: true, force: true }) };
}
