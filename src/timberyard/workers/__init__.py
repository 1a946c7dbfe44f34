"""`serve --workers N`: several ingest processes in front of one process that owns the store.

- `owner.Owner` runs in the process started by `serve`: it opens the entry store
  (embedded chDB allows one process) and serves it, the shared rate-limit and
  quota counters and the live-tail hub on a Unix socket (`rpc` frames).
- Each worker is the whole HTTP app on the shared listening socket, with its own
  write-ahead log, a `client.RemoteStore` for the store and `client.HubCounters`
  and `client.HubRelay` for what the nodes of a deployment share through Redis.
- `supervisor` starts the workers, restarts one that dies, and stops them first
  on SIGTERM so that every accepted row reaches the store before it closes.
"""
