"""Put one market's updates back in book-sequence order before a subscriber sees them.

Every committed change to a book has the next sequence number, but the updates reach each process through the
channel layer from whichever process committed them, each from its own `on_commit` hook, so two close updates can
arrive swapped. The sequencer holds what came early until the missing one arrives, drops what the subscriber's
snapshot already includes, and says when it is still waiting (the hub then waits briefly and, if the gap stays,
skips it; each consumer that sees the jump takes a fresh snapshot: see realtime/hub.py).
"""

from dataclasses import dataclass, field

# More early updates than this waiting for one missing sequence: stop waiting and resynchronise at once.
MAX_PENDING = 200


@dataclass
class Sequencer:
    sequence: int | None = None  # the last sequence handed on (or the snapshot's); None before the first snapshot
    pending: dict[int, dict] = field(default_factory=dict)

    def reset(self, sequence: int) -> None:
        """Continue from a snapshot taken at `sequence`: what it already includes is dropped."""
        self.sequence = sequence
        self.pending = {seq: update for seq, update in self.pending.items() if seq > sequence}

    def add(self, update: dict) -> None:
        """Keep an update unless it is one the subscriber has (a duplicate or older than the snapshot)."""
        if self.sequence is None or update["sequence"] > self.sequence:
            self.pending.setdefault(update["sequence"], update)

    def ready(self) -> list[dict]:
        """Take the updates that follow on without a gap, in order."""
        if self.sequence is None:
            return []
        ready = []
        while self.sequence + 1 in self.pending:
            self.sequence += 1
            ready.append(self.pending.pop(self.sequence))
        return ready

    def skip(self) -> None:
        """Give up on the missing update: go on from the earliest one held (whoever missed it must resynchronise)."""
        if self.pending:
            self.sequence = min(self.pending) - 1

    @property
    def waiting(self) -> bool:
        """Updates are held back behind a missing one."""
        return bool(self.pending)

    @property
    def overflowing(self) -> bool:
        return len(self.pending) > MAX_PENDING
