export * from './charts';
export { renderHtmlReport, plotlyJs, type ReportSection } from './html-report';
export { initCharts, showChart, showFrame, showRecords, showValues } from './show';
export { notebookDisplay, type NotebookDisplay } from './notebook-display';
export { validationSections, windowMetricsFigure, stitchedEquityFigure, pathEquityFigure } from './validation-sections';
