import nodemailer from 'nodemailer';
import type { ResolvedChannel } from './config';
import type { AlertAttachment, AlertEvent } from './types';

/** A delivery attempt failed; `retryAfterMs` when the service said how long to wait (429). */
export class DeliveryError extends Error {
  readonly retryAfterMs?: number;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'DeliveryError';
    this.retryAfterMs = retryAfterMs;
  }
}

export type FetchFunction = typeof fetch;

/** How far a delivery got: a Telegram report is a message then a photo; a retry must not resend the message. */
export type DeliveryProgress = { partsDone: number };

const TELEGRAM_TEXT_LIMIT = 4096;
const TELEGRAM_CAPTION_LIMIT = 1024;
const REQUEST_TIMEOUT_MS = 15_000;

const clip = (text: string, limit: number): string => (text.length <= limit ? text : text.slice(0, limit - 1) + '…');

/** The chat form of an event: its title, a blank line, its text. */
export function chatText(event: AlertEvent): string {
  return event.text ? `${event.title}\n\n${event.text}` : event.title;
}

const images = (event: AlertEvent): AlertAttachment[] => (event.attachments ?? []).filter((a) => a.contentType.startsWith('image/'));

/** Telegram's answer: {ok, result} or {ok: false, error_code, description, parameters: {retry_after}}. */
async function telegramCall(fetchFn: FetchFunction, channel: Extract<ResolvedChannel, { type: 'telegram' }>, method: string, body: FormData | string): Promise<void> {
  const url = `${channel.apiUrl}/bot${channel.botToken}/${method}`;
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: 'POST',
      headers: typeof body === 'string' ? { 'content-type': 'application/json' } : undefined,
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new DeliveryError(`telegram ${method}: ${networkReason(error)}`);
  }
  const text = await response.text().catch(() => '');
  let answer: { ok?: boolean; description?: string; parameters?: { retry_after?: number } } = {};
  try {
    answer = JSON.parse(text);
  } catch {
    // a proxy's HTML error page: the status says enough
  }
  if (response.ok && answer.ok === true) return;
  const retryAfter = answer.parameters?.retry_after ?? retryAfterHeader(response);
  throw new DeliveryError(`telegram ${method}: HTTP ${response.status} ${answer.description ?? clip(text, 120)}`, retryAfter === undefined ? undefined : retryAfter * 1000);
}

/** Seconds from a Retry-After header (numeric form). */
function retryAfterHeader(response: Response): number | undefined {
  const value = Number(response.headers.get('retry-after'));
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** fetch's "fetch failed" hides the reason in `cause`. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

async function sendTelegram(fetchFn: FetchFunction, channel: Extract<ResolvedChannel, { type: 'telegram' }>, event: AlertEvent, progress: DeliveryProgress): Promise<void> {
  if (progress.partsDone < 1) {
    await telegramCall(fetchFn, channel, 'sendMessage', JSON.stringify({ chat_id: channel.chatId, text: clip(chatText(event), TELEGRAM_TEXT_LIMIT) }));
    progress.partsDone = 1;
  }
  const photos = images(event);
  for (let i = progress.partsDone - 1; i < photos.length; i++) {
    const form = new FormData();
    form.append('chat_id', channel.chatId);
    form.append('caption', clip(event.title, TELEGRAM_CAPTION_LIMIT));
    form.append('photo', new Blob([photos[i].content], { type: photos[i].contentType }), photos[i].filename);
    await telegramCall(fetchFn, channel, 'sendPhoto', form);
    progress.partsDone = i + 2;
  }
}

/** Slack incoming webhook: POST {text}; the answer is the plain text "ok". Images cannot go through a webhook. */
async function sendSlack(fetchFn: FetchFunction, channel: Extract<ResolvedChannel, { type: 'slack' }>, event: AlertEvent): Promise<void> {
  let response: Response;
  try {
    response = await fetchFn(channel.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: event.text ? `*${event.title}*\n${event.text}` : `*${event.title}*` }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new DeliveryError(`slack webhook: ${networkReason(error)}`);
  }
  const text = (await response.text().catch(() => '')).trim();
  if (response.ok && text === 'ok') return;
  const retryAfter = retryAfterHeader(response);
  throw new DeliveryError(`slack webhook: HTTP ${response.status} ${clip(text, 120)}`, retryAfter === undefined ? undefined : retryAfter * 1000);
}

/** E-mail through SMTP: text, HTML, and attachments (an image with a cid shows inline in the HTML). */
async function sendEmail(channel: Extract<ResolvedChannel, { type: 'email' }>, event: AlertEvent): Promise<void> {
  const transport = nodemailer.createTransport({
    host: channel.host,
    port: channel.port,
    secure: channel.secure,
    auth: channel.user ? { user: channel.user, pass: channel.password ?? '' } : undefined,
    connectionTimeout: REQUEST_TIMEOUT_MS,
    greetingTimeout: REQUEST_TIMEOUT_MS,
    socketTimeout: REQUEST_TIMEOUT_MS,
  });
  try {
    await transport.sendMail({
      from: channel.from,
      to: channel.to,
      subject: event.title,
      text: event.text,
      html: event.html,
      attachments: (event.attachments ?? []).map((a) => ({ filename: a.filename, content: a.content, contentType: a.contentType, cid: a.cid })),
    });
  } catch (error) {
    const e = error as { responseCode?: number; response?: string; code?: string; message: string };
    throw new DeliveryError(`email via ${channel.host}:${channel.port}: ${e.response ?? e.code ?? e.message}`);
  } finally {
    transport.close();
  }
}

/** Deliver one event to one channel in that service's wire format; throws DeliveryError when it did not arrive. */
export async function deliverToChannel(channel: ResolvedChannel, event: AlertEvent, progress: DeliveryProgress, fetchFn: FetchFunction = fetch): Promise<void> {
  if (channel.type === 'telegram') return sendTelegram(fetchFn, channel, event, progress);
  if (channel.type === 'slack') return sendSlack(fetchFn, channel, event);
  return sendEmail(channel, event);
}
