import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * Local stand-ins for the services alerts go to, on 127.0.0.1: a chat server speaking Telegram's Bot API
 * (sendMessage, sendPhoto under /bot<token>/) and Slack's incoming webhook, and an SMTP server. They record
 * what arrived and can be switched down (HTTP 5xx, refused or closed connections, 429) and back up.
 */

/** One message the chat server accepted. */
export type FakeChatMessage = {
  service: 'telegram' | 'slack';
  method: 'sendMessage' | 'sendPhoto' | 'webhook';
  /** Telegram: the bot token in the path. */
  token?: string;
  chatId?: string;
  text?: string;
  caption?: string;
  photo?: { filename: string; contentType: string; content: Buffer };
};

/** How the chat server answers until the next switch. */
export type FakeChatMode =
  | { kind: 'up' }
  /** Answer every request with this HTTP status (Telegram's JSON error body, Slack's text). */
  | { kind: 'status'; status: number }
  /** Accept the connection, then destroy it without an answer. */
  | { kind: 'close' }
  /** Stop listening: connections are refused. */
  | { kind: 'refuse' }
  /** 429 with Telegram's parameters.retry_after / Slack's Retry-After, for the next `count` requests, then up. */
  | { kind: 'rate-limited'; retryAfterSeconds: number; count: number };

export type FakeChatServer = {
  /** http://127.0.0.1:<port>: a Telegram `apiUrl`. */
  readonly url: string;
  /** A Slack incoming-webhook URL on this server. */
  readonly slackWebhookUrl: string;
  readonly messages: FakeChatMessage[];
  /** Requests that reached the server (including refused-by-mode ones that got an answer). */
  readonly requests: number;
  setMode(mode: FakeChatMode): Promise<void>;
  /** Resolves when at least `count` messages have been accepted. */
  waitForMessages(count: number): Promise<FakeChatMessage[]>;
  close(): Promise<void>;
};

export const FAKE_SLACK_PATH = '/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';

/** A waiter list shared by both stand-ins: wake callers once enough messages arrived. */
function messageWaiters<T>(messages: T[]): { notify(): void; wait(count: number): Promise<T[]> } {
  const waiters: Array<{ count: number; resolve: (m: T[]) => void }> = [];
  return {
    notify() {
      for (const w of [...waiters]) {
        if (messages.length >= w.count) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(messages);
        }
      }
    },
    wait(count) {
      if (messages.length >= count) return Promise.resolve(messages);
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
  };
}

/** Start the Telegram + Slack stand-in on 127.0.0.1 (any free port unless given). */
export async function startFakeChatServer(options: { port?: number } = {}): Promise<FakeChatServer> {
  const messages: FakeChatMessage[] = [];
  const waiters = messageWaiters(messages);
  let mode: FakeChatMode = { kind: 'up' };
  let requests = 0;
  const sockets = new Set<Socket>();

  const answer = (res: http.ServerResponse, slack: boolean, status: number, description: string, headers: Record<string, string> = {}, retryAfter?: number): void => {
    if (slack) {
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(description);
    } else {
      const body: Record<string, unknown> = { ok: false, error_code: status, description };
      if (retryAfter !== undefined) body.parameters = { retry_after: retryAfter };
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    }
  };

  const server = http.createServer(async (req, res) => {
    requests++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const slack = url.pathname === FAKE_SLACK_PATH;
    if (mode.kind === 'close') return void req.socket.destroy();
    if (mode.kind === 'status') return answer(res, slack, mode.status, slack ? 'service_unavailable' : `Internal Server Error`);
    if (mode.kind === 'rate-limited') {
      const seconds = mode.retryAfterSeconds;
      if (--mode.count <= 0) mode = { kind: 'up' };
      return answer(res, slack, 429, slack ? 'rate_limited' : `Too Many Requests: retry after ${seconds}`, { 'retry-after': String(seconds) }, seconds);
    }
    if (req.method !== 'POST') return answer(res, slack, 405, 'method not allowed');
    if (slack) {
      let text: unknown;
      try {
        text = JSON.parse(body.toString('utf8')).text;
      } catch {
        return answer(res, true, 400, 'invalid_payload');
      }
      if (typeof text !== 'string' || !text) return answer(res, true, 400, 'no_text');
      messages.push({ service: 'slack', method: 'webhook', text });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return waiters.notify();
    }
    const match = /^\/bot([^/]+)\/(sendMessage|sendPhoto)$/.exec(url.pathname);
    if (!match) return answer(res, false, 404, 'Not Found');
    const [, token, method] = match;
    const contentType = req.headers['content-type'] ?? '';
    let fields: Record<string, string> = {};
    let photo: FakeChatMessage['photo'];
    if (contentType.startsWith('multipart/form-data')) {
      // undici's multipart parser, through a Request
      const form = await new Request('http://127.0.0.1/', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
      for (const [k, v] of form) {
        if (typeof v === 'string') fields[k] = v;
        else photo = { filename: v.name, contentType: v.type, content: Buffer.from(await v.arrayBuffer()) };
      }
    } else {
      try {
        fields = Object.fromEntries(Object.entries(JSON.parse(body.toString('utf8')) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
      } catch {
        return answer(res, false, 400, "Bad Request: can't parse JSON");
      }
    }
    if (!fields.chat_id) return answer(res, false, 400, 'Bad Request: chat_id is empty');
    if (method === 'sendMessage' && !fields.text) return answer(res, false, 400, 'Bad Request: message text is empty');
    if (method === 'sendPhoto' && !photo) return answer(res, false, 400, 'Bad Request: there is no photo in the request');
    messages.push({ service: 'telegram', method: method as 'sendMessage' | 'sendPhoto', token, chatId: fields.chat_id, text: fields.text, caption: fields.caption, photo });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, result: { message_id: messages.length, chat: { id: Number(fields.chat_id) || fields.chat_id } } }));
    waiters.notify();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy(); // keep-alive connections would keep it answering
    });
  const port = await listen(options.port ?? 0);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    slackWebhookUrl: url + FAKE_SLACK_PATH,
    messages,
    get requests() {
      return requests;
    },
    async setMode(next) {
      mode = next;
      if (next.kind === 'refuse') await stopListening();
      else if (!server.listening) await listen(port);
    },
    waitForMessages: (count) => waiters.wait(count),
    close: stopListening,
  };
}

/** One message the SMTP stand-in accepted. */
export type FakeSmtpMessage = { from: string; to: string[]; user?: string; raw: string };

export type FakeSmtpServer = {
  readonly host: string;
  readonly port: number;
  readonly messages: FakeSmtpMessage[];
  /** Answer every message with this 4xx/5xx reply (e.g. 451) until switched back with `undefined`. */
  setReject(code: number | undefined): void;
  waitForMessages(count: number): Promise<FakeSmtpMessage[]>;
  close(): Promise<void>;
};

/** Start an SMTP stand-in on 127.0.0.1 (no TLS; any user and password are accepted). */
export async function startFakeSmtpServer(): Promise<FakeSmtpServer> {
  const messages: FakeSmtpMessage[] = [];
  const waiters = messageWaiters(messages);
  let reject: number | undefined;
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: true,
    logger: false,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (reject !== undefined) {
          const error = Object.assign(new Error('Requested action aborted: try again later'), { responseCode: reject });
          return callback(error);
        }
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
        waiters.notify();
      });
    },
  });
  await new Promise<void>((resolve, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    messages,
    setReject(code) {
      reject = code;
    },
    waitForMessages: (count) => waiters.wait(count),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
