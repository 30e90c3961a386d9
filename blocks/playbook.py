"""The first steps of Google's response playbook, by kind of finding."""

from __future__ import annotations

from bot.resources import CloudRunTarget, RunKind

_INVESTIGATE = (
    "Check *related findings* on the same resource around the event time.",
    "Review the *container settings*: image, runtime service account, ingress, who deployed it.",
    "Read the *logs* around the event time for what ran before and after.",
)


def first_steps(category: str, target: CloudRunTarget | None) -> str:
    """Return the playbook's first steps for a category as safe mrkdwn."""
    lowered = category.lower()
    steps = list(_INVESTIGATE)
    if "python" in lowered or "script" in lowered or "binary" in lowered:
        steps.append("Look the *hash up on VirusTotal* and read the script or binary in full.")
    elif "reverse shell" in lowered:
        steps.append("Identify the *remote address* and block it at the egress firewall.")
    elif "url" in lowered:
        steps.append("Check who else reached the *URL*, and block the domain.")
    if target is not None and target.kind is RunKind.SERVICE:
        steps.append(
            "If confirmed, *contain*: move traffic off the revision, restrict ingress, "
            "remove public invokers, then delete the revision."
        )
    elif target is not None:
        steps.append("If confirmed, *contain*: cancel the job's running executions.")
    numbered = "\n".join(f"{index}. {step}" for index, step in enumerate(steps, 1))
    return f"*Response playbook*\n{numbered}"
