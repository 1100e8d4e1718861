"""Running Ansible through ansible-runner: playbooks (apply, rollback, verify), check mode with diffs, syntax checks.

One wrapper (:func:`run_playbook`) that every Ansible feature uses; it reads ansible-runner's event stream into
per-host results. Ansible is an optional dependency (``pip install 'opspilot[ansible]'``).
"""

from core.ansible.runner import HostResult, PlaybookRun, ansible_available, run_playbook, syntax_check

__all__ = ["HostResult", "PlaybookRun", "ansible_available", "run_playbook", "syntax_check"]
