import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { Resolve } from "../../adapters/notify/address";
import { verify } from "../../adapters/notify/signature";
import { sendWebhook, type SignedDelivery } from "../../adapters/notify/webhook-sender";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

const servers: { close(done: () => void): unknown }[] = [];
afterAll(() =>
  Promise.all(servers.map((server) => new Promise<void>((done) => server.close(() => done())))),
);

/** A local receiver answering `status`; `never` holds every request open. */
async function receiver(host: string, status: number | "never", port = 0) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      if (status !== "never") res.writeHead(status, { location: "http://127.0.0.1/" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  servers.push({ close: (done) => server.close(done).closeAllConnections() });
  return { port: (server.address() as AddressInfo).port, received };
}

const ANY_DATE = expect.any(Date) as Date;

const delivery = (url: string, allowInternal = true): SignedDelivery => ({
  id: "wh_1:event-1",
  url,
  secret: "whsec_test",
  body: '{"type":"booking.requested"}',
  allowInternal,
});

describe("sending a webhook", () => {
  it("given a name that resolves to an allowed address, then a second lookup to loopback, when sending, then it connects to the checked address only (DNS rebinding)", async () => {
    // 127.0.0.2 stands in for a public address; 127.0.0.1 is the internal one behind it.
    const partner = await receiver("127.0.0.2", 204);
    const inside = await receiver("127.0.0.1", 204, partner.port);
    const answers = [["127.0.0.2"], ["127.0.0.1"]];
    const resolve = jest.fn<ReturnType<Resolve>, Parameters<Resolve>>(() =>
      Promise.resolve(answers.shift() ?? ["127.0.0.1"]),
    );

    const result = await sendWebhook(
      delivery(`http://partner.example:${partner.port}/hooks?x=1`, false),
      { resolve, permits: (address) => address === "127.0.0.2" },
    );

    expect(result).toEqual({
      attempt: { at: ANY_DATE, outcome: "delivered", status_code: 204 },
      detail: null,
    });
    expect(resolve.mock.calls).toEqual([["partner.example"]]);
    expect(inside.received).toEqual([]);
    expect(partner.received).toHaveLength(1);
    const [{ headers, body }] = partner.received;
    expect([headers.host, headers["kilat-delivery"], body]).toEqual([
      `partner.example:${partner.port}`,
      "wh_1:event-1",
      '{"type":"booking.requested"}',
    ]);
    expect(verify("whsec_test", body, String(headers["kilat-signature"]))).toBe(true);
  });

  it("given internal addresses refused, when the name now resolves to loopback, then nothing is sent and the attempt is unreachable", async () => {
    const inside = await receiver("127.0.0.1", 204);
    const result = await sendWebhook(
      delivery(`http://partner.example:${inside.port}/hook`, false),
      { resolve: () => Promise.resolve(["8.8.8.8", "127.0.0.1"]) },
    );
    expect(result).toEqual({
      attempt: { at: ANY_DATE, outcome: "unreachable", status_code: null },
      detail: "refused: the host has an internal address",
    });
    expect(inside.received).toEqual([]);
  });

  it("given internal addresses refused, when the URL is an IPv4-mapped loopback literal, then nothing is sent", async () => {
    const inside = await receiver("127.0.0.1", 204);
    const result = await sendWebhook(delivery(`http://[::ffff:127.0.0.1]:${inside.port}/`, false));
    expect(result.attempt).toEqual({
      at: ANY_DATE,
      outcome: "unreachable",
      status_code: null,
    });
    expect(inside.received).toEqual([]);
  });

  it("given an https URL, when sending to the pinned address, then TLS names the URL's host", async () => {
    const serverNames: string[] = [];
    const tls = createTlsServer({
      SNICallback: (name, done) => {
        serverNames.push(name);
        done(null, undefined); // no certificate: the handshake stops here, the name is seen
      },
    });
    tls.on("tlsClientError", () => undefined);
    await new Promise<void>((resolve) => tls.listen(0, "127.0.0.1", resolve));
    servers.push(tls);

    const { attempt } = await sendWebhook(
      delivery(`https://partner.example.:${(tls.address() as AddressInfo).port}/hook`),
      { resolve: () => Promise.resolve(["127.0.0.1"]) },
    );

    expect(serverNames).toEqual(["partner.example"]);
    expect(attempt).toEqual({ at: ANY_DATE, outcome: "unreachable", status_code: null });
  });

  it("shows the receiver's status code, and follows no redirect", async () => {
    const failing = await receiver("127.0.0.1", 500);
    const moved = await receiver("127.0.0.1", 302);
    expect((await sendWebhook(delivery(`http://127.0.0.1:${failing.port}/`))).attempt).toEqual({
      at: ANY_DATE,
      outcome: "http_error",
      status_code: 500,
    });
    expect((await sendWebhook(delivery(`http://localhost:${moved.port}/`))).attempt).toEqual({
      at: ANY_DATE,
      outcome: "http_error",
      status_code: 302,
    });
    expect(moved.received).toHaveLength(1);
  });

  it("folds a closed port, a reset, a timeout, an unknown name and a stuck lookup into one `unreachable`", async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const resetting = createTcpServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => resetting.listen(0, "127.0.0.1", resolve));
    servers.push(resetting);
    const silent = await receiver("127.0.0.1", "never");

    const attempts = await Promise.all([
      sendWebhook(delivery(`http://127.0.0.1:${closedPort}/`)),
      sendWebhook(delivery(`http://127.0.0.1:${(resetting.address() as AddressInfo).port}/`)),
      sendWebhook(delivery(`http://127.0.0.1:${silent.port}/`), { timeoutMs: 300 }),
      sendWebhook(delivery("http://partner.example/"), {
        resolve: () => Promise.reject(new Error("getaddrinfo ENOTFOUND partner.example")),
      }),
      sendWebhook(delivery("http://partner.example/"), {
        resolve: () => new Promise<string[]>(() => undefined), // a resolver that never answers
        timeoutMs: 300,
      }),
    ]);

    expect(attempts.map(({ attempt }) => attempt)).toEqual(
      Array(5).fill({ at: ANY_DATE, outcome: "unreachable", status_code: null }),
    );
  });
});
