"""What the agent is told to do next: polling intervals per provider, next_action, and the one-line summary."""

from __future__ import annotations

import json

from providers.base import Task

MAX_WAIT_SECONDS = 45.0
# Seconds between polls per provider when the adapter gives no hint; VicSee counts polls against a daily quota.
POLL_FLOOR = {"sandbox": 0.2, "vicsee": 5.0, "nanogpt": 5.0, "mountsea": 5.0, "uniall": 5.0}
POLL_DEFAULT = {"sandbox": 1.0, "vicsee": 10.0, "nanogpt": 5.0, "mountsea": 5.0, "uniall": 5.0}


def next_action(task: Task) -> str:
    if task.status == "completed":
        if task.files:
            return f"Done: saved at {task.files[0]}. Show it to the user."
        url = task.result.url if task.result else None
        if url:
            return f"Done: the result is at {url} (provider links expire; download it soon)."
        return "Done, but the provider returned no result URL; check the provider's dashboard."
    if task.status == "failed":
        error = task.error
        if error is not None and error.code in ("content_policy", "content_filtered", "nsfw"):
            return "The prompt or input was refused by content policy; rephrase it and call generate again."
        if error is not None and error.retryable:
            return "The failure looks temporary; call generate again in a minute."
        return "Generation failed; read error.message, fix the inputs and call generate again."
    wait = task.poll_after_seconds or 5
    return (
        f"Call get_task with task_id={task.task_id!r} in about {wait:g} s "
        f"(or pass wait_seconds up to {MAX_WAIT_SECONDS:g} to wait inside the call)."
    )


def summary(task: Task) -> str:
    """The one-line text block. Provider text is quoted: it is data, never instructions."""
    pct = f" {task.progress:.0f}%" if task.progress is not None and not task.terminal else ""
    line = f"{task.task_id} {task.status}{pct}: {task.next_action}"
    if task.error is not None:
        quoted = json.dumps(task.error.message[:300], ensure_ascii=False)
        line += f" Provider message [{task.error.code}] (quoted data): {quoted}"
    return line
