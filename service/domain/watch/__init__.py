"""WatchVMs: live VM changes from one MongoDB change stream per process, fanned out over SSE."""
