export { checkQuality, assertQuality, type QualityReport, type QualityIssue, type QualityIssueKind } from './check-quality';
