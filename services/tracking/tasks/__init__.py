"""Special tasks (专项工作, 002 §9.6) a supervisor assigns to the stations of its subtree."""
