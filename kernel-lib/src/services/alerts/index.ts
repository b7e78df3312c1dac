/**
 * Alerts and reports: route AlertEvents to Telegram, Slack and e-mail through a disk queue with retries
 * and rate-limit digests (openAlerts), and build daily/weekly session reports (buildReport).
 */
export { NO_ALERTS, type AlertAttachment, type AlertEvent, type AlertKind, type AlertSink } from './types';
export { ALERT_KINDS, DEFAULT_RETRY, alertsConfigSchema, channelsFor, loadAlertsConfig, type AlertsConfig, type AlertsConfigInput, type LoadAlertsOptions, type RateLimit, type ResolvedChannel } from './config';
export { openAlerts, digestEvent, type AlertsClock, type AlertsService, type AlertsStats, type ChannelStats, type OpenAlertsOptions } from './open-alerts';
export { deliverToChannel, chatText, DeliveryError, type DeliveryProgress, type FetchFunction } from './channels';
export { DeliveryQueue, type StoredDelivery } from './delivery-queue';
export { buildReport, reportHtmlFile, type BuildReportOptions, type ReportFigures, type ReportPeriod } from './build-report';
export { encodePng, lineChartPng, PNG_SIGNATURE, type LineChartOptions } from './line-chart-png';
