export { checkQuality, assertQuality, type QualityReport, type QualityIssue, type QualityIssueKind, type QualityOptions } from './check-quality';
export { applyMissingDataPolicy, MISSING_DATA_POLICIES, type MissingDataPolicy, type MissingDataReport } from './missing-data';
