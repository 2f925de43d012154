// EscuchaWorkflow
