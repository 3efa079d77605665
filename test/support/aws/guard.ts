/**
 * Keeps a test process off the network: every outgoing TCP connection and DNS lookup is
 * checked, and anything but the loopback address is refused (and recorded, so a test can
 * assert that nothing tried).
 */
import dns from "node:dns";
import net from "node:net";

const LOCAL = new Set(["127.0.0.1", "::1", "localhost"]);

export interface NetworkGuard {
  /** Hosts something tried to reach or resolve that are not the loopback address. */
  readonly refused: string[];
  /** Loopback ports connected to. */
  readonly connected: Set<string>;
  restore(): void;
}

export function guardNetwork(): NetworkGuard {
  const refused: string[] = [];
  const connected = new Set<string>();
  const originalConnect = net.Socket.prototype.connect;
  const originalLookup = dns.lookup;

  function check(host: string | undefined, port: unknown): void {
    const target = host ?? "localhost";
    if (!LOCAL.has(target)) {
      refused.push(target);
      throw new Error(`network guard: a test tried to reach ${target}; only 127.0.0.1 is allowed`);
    }
    connected.add(`${target}:${String(port)}`);
  }

  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    // net.createConnection passes its normalized arguments as one array.
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    if (typeof first === "object" && first !== null) {
      const options = first as { host?: string; port?: unknown; path?: string | null };
      // A string path is a Unix socket (or pipe), not the network.
      if (typeof options.path !== "string") check(options.host, options.port);
    } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
      check(typeof args[1] === "string" ? args[1] : undefined, first);
    }
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;

  dns.lookup = function (hostname: string, ...rest: unknown[]) {
    if (!LOCAL.has(hostname)) {
      refused.push(hostname);
      throw new Error(`network guard: a test tried to resolve ${hostname}`);
    }
    return (originalLookup as (...a: unknown[]) => unknown)(hostname, ...rest);
  } as typeof dns.lookup;

  return {
    refused,
    connected,
    restore() {
      net.Socket.prototype.connect = originalConnect;
      dns.lookup = originalLookup;
    },
  };
}
