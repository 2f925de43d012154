// EscuchaClassifier
