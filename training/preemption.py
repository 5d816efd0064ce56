"""Preemption and time limits: a stop signal ends training with a checkpoint, and the re-run resumes.

SLURM sends SIGTERM at a time limit or preemption, and SIGKILL KillWait seconds (30 by default) later;
`--signal=TERM@300` sends it five minutes early. On SIGTERM or SIGUSR1 training finishes the step it is
in, writes checkpoint.pt and exits with status 75 (EX_TEMPFAIL: try again), from the command line as
from the workflow's script; Snakemake counts that as a failure and retries the job (restart-times), and
the re-run resumes to the weights of an uninterrupted run. Under torchrun every process stops after the
same step; add `--signals-to-handle SIGTERM,SIGINT,SIGUSR1` so that torchrun passes SIGUSR1 on too.
SIGINT (Ctrl-C) is not caught: KeyboardInterrupt stops the run at once, keeping the last checkpoint.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
EXIT_PREEMPTED = 75  # EX_TEMPFAIL (sysexits.h): a temporary failure, run again


class Preempted(SystemExit):
    """Training stopped on a stop signal once its checkpoint was written. A SystemExit with status
    EXIT_PREEMPTED, so the process ends with that status (and no traceback) wherever training runs:
    the command line or the workflow's script."""

    def __init__(self, message: str):
        super().__init__(EXIT_PREEMPTED)
        self.message = message


class StopRequest:
    """Whether training must stop after the step it is in. `signum` is the stop signal this process
    got (None until one arrives). Under DDP all processes must stop after the same step, so the trainer
    sets `anywhere` every step from an all-reduce of `received`, and that decides instead."""

    def __init__(self):
        self.signum: int | None = None
        self.anywhere: bool | None = None  # None: a single process, nothing to agree on

    def note(self, signum, frame) -> None:
        self.signum = signum

    @property
    def received(self) -> bool:
        return self.signum is not None

    def must_stop(self) -> bool:
        return self.received if self.anywhere is None else self.anywhere

    def preempted(self, step: int, total_steps: int, checkpoint: Path, announce: bool) -> Preempted:
        """The exit of a run stopped after `step` with `checkpoint` written. Its message is printed
        here when `announce` (one process of several), as SystemExit with a status prints nothing."""
        what = (signal.Signals(self.signum).name if self.received
                else "a stop signal sent to another training process")
        message = (f"stopped by {what} after step {step} of {total_steps}; {checkpoint} "
                   f"is written: run the same command again to resume (exit status {EXIT_PREEMPTED})")
        if announce:
            print(message, file=sys.stderr, flush=True)
        return Preempted(message)


@contextlib.contextmanager
def stop_signals_caught(request: StopRequest):
    """While training, SIGTERM and SIGUSR1 only note in `request` that the run must stop; the loop
    then stops at the end of the step, with a consistent state to save. The previous handlers come
    back afterwards. (Handlers can only be set in the main thread; elsewhere the signals keep their
    effect.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, request.note) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def ignore_stop_signals(worker_id: int) -> None:
    """DataLoader worker initialiser: SLURM signals every process of a job, and a worker killed by it
    would fail the main process before its checkpoint; the main process stops the workers itself."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
