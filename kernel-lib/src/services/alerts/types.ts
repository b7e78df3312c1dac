/**
 * What services send to people: one event shape for every channel (Telegram, Slack, e-mail).
 * Producers (paper/live sessions, the scheduler, the registry commands, reports) only see `AlertSink`;
 * routing, retries, the disk queue and rate limits live behind it (services/alerts).
 */
export type AlertKind =
  | 'fill'
  | 'error'
  | 'kill-switch'
  | 'risk'
  | 'promotion'
  | 'rollback'
  | 'model-switch'
  | 'schedule'
  | 'report'
  | 'test';

export type AlertAttachment = { filename: string; contentType: string; content: Buffer; /** inline in HTML as cid:<cid> */ cid?: string };

export type AlertEvent = {
  kind: AlertKind;
  /** One line: the subject of an e-mail, the first line of a chat message. */
  title: string;
  /** Plain text body (chat channels send this). */
  text: string;
  /** HTML body for e-mail (reports: tables and the equity chart). */
  html?: string;
  attachments?: AlertAttachment[];
  /** ISO time the event happened (default: when it was sent). */
  at?: string;
  /** Who raised it, e.g. "paper runs/paper-x", "schedule retrain-btc". */
  source?: string;
};

/** Where producers send events. `send` never throws and never blocks trading on a channel being down. */
export type AlertSink = {
  send(event: AlertEvent): Promise<void>;
  /** Try to deliver everything queued now (on disk or in memory); resolves when done or given up for now. */
  flush(): Promise<void>;
  close(): Promise<void>;
};

/** A sink that drops everything (no alerts configured). */
export const NO_ALERTS: AlertSink = { send: async () => undefined, flush: async () => undefined, close: async () => undefined };
