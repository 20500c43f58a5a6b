"""Changes after registration: the form corrected before dispatch (audited), and withdrawal (撤回)."""
