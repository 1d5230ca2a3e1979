"""The exit codes of every ``oomguard`` command (public API: the specification's), defined
once for ``lint``, ``audit``, ``rules``, ``serve`` and ``export``."""

EXIT_OK = 0  # nothing at or above --fail-on; a server stopped by SIGTERM
EXIT_FINDINGS = 1  # findings at or above --fail-on
EXIT_USAGE = 2  # bad flag, config, path, certificate; an unreadable input or API error
EXIT_INTERNAL = 3  # a rule crashed: a bug to report
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
# stdout closed before the output was whole (`| head`): 128 + SIGPIPE, as shells report a
# tool killed by it; never 0, since a cut report is no "checked and fine" under pipefail
EXIT_PIPE_CLOSED = 141
