// Early-warning summaries and exports for managers (see docs/reports.md when it lands).
