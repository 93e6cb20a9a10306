"""The one exception type a user's mistake raises; the CLI prints its message and exits 1."""


class FgTextError(Exception):
    """A problem with the user's input: the message is one sentence naming the input and what
    was expected. Never used for internal invariants (those assert)."""
