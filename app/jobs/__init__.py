"""Background jobs: a row every web process reads, a task any worker runs."""
