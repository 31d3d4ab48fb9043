"""Small test doubles shared by the training and run-store tests."""
import os
import signal


class InterruptAt:
    """An after-step hook that presses Ctrl-C once at a given step. Its cache_key makes it invisible to the run
    store, so a re-run with a quiet hook has the same key (and resumes)."""

    cache_key = "interrupt-test-hook"

    def __init__(self, step):
        self.step = step

    def __call__(self, model, step):
        if step == self.step:
            os.kill(os.getpid(), signal.SIGINT)
