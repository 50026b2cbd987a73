"""ObserverService: every RPC recorded (interceptor -> ring -> journal on the lake), read
back as ops, a live tail and statistics; the journal is the SQL dataset ``_ops``."""
