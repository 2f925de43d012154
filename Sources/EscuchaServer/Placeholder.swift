// EscuchaServer
