// EscuchaStore
