// EscuchaChannels
